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
}
