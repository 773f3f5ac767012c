import Foundation
import Testing

@testable import TailcastAgent
import TailcastProtocol

@Suite struct SpoolTests {
    func makeSpool(maxBytes: UInt64 = 1 << 20) throws -> Spool {
        let directory = NSTemporaryDirectory() + "spool-test-\(UUID().uuidString)"
        let hello = ControlMessage.Hello(job: "j", runId: "r", agent: "t", meta: JobMeta(kind: "run", command: [], host: "h", user: "u", startedAtMs: 0))
        return try Spool(directory: directory, hello: hello, streams: [.init(stream: 1, name: "stdout"), .init(stream: 2, name: "stderr")], maxBytes: maxBytes)
    }

    func append(_ spool: Spool, _ stream: UInt32, _ text: String, _ time: UInt64) {
        Array(text.utf8).withUnsafeBytes { spool.append(stream: stream, bytes: $0, timeMs: time) }
    }

    @Test func readsCloseInTimeShareOneRecord() throws {
        let spool = try makeSpool()
        defer { spool.remove() }
        let mark = Wire.timeMarkResolutionMs
        append(spool, 1, "a\n", 1000)
        append(spool, 1, "b\n", 1000 + mark - 1)
        append(spool, 1, "c\n", 1000 + mark)  // a new mark
        append(spool, 2, "e\n", 1000 + mark)  // another stream
        append(spool, 1, "d\n", 1001 + mark)
        let end = spool.seal()
        let (chunks, position) = try spool.read(from: 0, maxBytes: 1 << 20)
        #expect(position == end)
        #expect(chunks.map { [UInt64($0.stream), $0.offset, $0.timeMs] } == [[1, 0, 1000], [1, 4, 1000 + mark], [2, 0, 1000 + mark], [1, 6, 1001 + mark]])
        #expect(chunks.map { String(buffer: $0.bytes) } == ["a\nb\n", "c\n", "e\n", "d\n"])
        #expect(spool.streamSizes == [1: 8, 2: 2])
    }

    @Test func readReturnsWholeRecordsOnly() throws {
        let spool = try makeSpool()
        defer { spool.remove() }
        append(spool, 1, String(repeating: "x", count: 5000), 0)
        append(spool, 1, String(repeating: "y", count: 5000), 100)
        _ = spool.seal()
        let (first, middle) = try spool.read(from: 0, maxBytes: 100)
        #expect(first.count == 1 && first[0].bytes.readableBytes == 5000)
        let (second, _) = try spool.read(from: middle, maxBytes: 100)
        #expect(second.count == 1 && second[0].offset == 5000)
    }

    @Test func aFullSpoolDropsNewOutputAndMarksTheGapVisibly() throws {
        let spool = try makeSpool(maxBytes: 100)
        defer { spool.remove() }
        append(spool, 1, String(repeating: "a", count: 90), 0)
        append(spool, 1, String(repeating: "b", count: 50), 20)  // does not fit: dropped
        #expect(spool.streamSizes[1] == 90)
        // the server acknowledges everything; room returns, and the loss is said where it happened
        spool.release(upTo: spool.seal())
        append(spool, 1, "c", 30)
        _ = spool.seal()
        let (chunks, _) = try spool.read(from: 0, maxBytes: 1 << 20)
        let text = chunks.map { String(buffer: $0.bytes) }.joined()
        #expect(text == String(repeating: "a", count: 90) + "\n[tailcast: 50 bytes of output were dropped here: the agent's spool was full]\nc")
    }

    @Test func theExitIsRecordedInTheManifest() throws {
        let spool = try makeSpool()
        defer { spool.remove() }
        try spool.finish(exit: ExitStatus(signal: 9), endedAtMs: 5)
        let data = try Data(contentsOf: URL(fileURLWithPath: spool.directory + "/job.json"))
        let manifest = try ProtocolJSON.decode(Spool.Manifest.self, from: data)
        #expect(manifest.exit == ExitStatus(signal: 9) && manifest.endedAtMs == 5)
        #expect(manifest.streams.map(\.name) == ["stdout", "stderr"])
    }

    @Test func reopensWhatAKilledAgentLeftAfterTheReleasedPart() throws {
        var spool: Spool? = try makeSpool(maxBytes: 64 << 20)
        let directory = spool!.directory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 3 MiB in records of ~100 KiB, one of them bigger than a batch; the first ~2 MiB released.
        var position: UInt64 = 0
        for index in 0..<30 {
            let size = index == 25 ? 400_000 : 100_000
            append(spool!, index % 2 == 0 ? 1 : 2, String(repeating: Character(UnicodeScalar(65 + index % 26)!), count: size), UInt64(index) * 100)
            let end = spool!.seal()
            if index == 19 { position = end }
        }
        spool!.release(upTo: position)
        let sizes = spool!.streamSizes
        #expect(throws: SpoolError.self) { try Spool(reopening: directory) }  // still locked by its writer
        // A crash mid-write leaves a torn record at the end.
        let handle = FileHandle(forWritingAtPath: directory + "/spool.bin")!
        handle.seekToEndOfFile()
        handle.write(Data([0x01, 0x85, 0x80]))
        try handle.close()
        spool = nil

        let reopened = try Spool(reopening: directory)
        #expect(reopened.streamSizes == sizes)
        // Reading from the start skips the released part, which is a hole where the file system can punch one.
        let (chunks, _) = try reopened.read(from: 0, maxBytes: 64 << 20)
        #expect(chunks.count == 10)
        #expect(chunks.first.map { String(buffer: $0.bytes).first } == "U")
        #expect(chunks.map(\.bytes.readableBytes).reduce(0, +) == 1_300_000)
    }
}
