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
        Array(text.utf8).withUnsafeBytes { _ = spool.append(stream: stream, bytes: $0, timeMs: time) }
    }

    @Test func readsCloseInTimeShareOneRecord() throws {
        let spool = try makeSpool()
        defer { spool.remove() }
        // 25 ms: the uplink sends 20 ms after the first unsent byte, and lines read while it does stay in the record.
        let mark = Spool.chunkSpanMs
        #expect(mark == Wire.timeMarkResolutionMs + 5)
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
        // What the uplink sealed to send is whole: the next read starts a record of its own, however soon.
        append(spool, 1, "f\n", 1002 + mark)
        let (after, _) = try spool.read(from: end, maxBytes: 1 << 20)
        #expect(after.isEmpty)
        _ = spool.seal()
        let (next, _) = try spool.read(from: end, maxBytes: 1 << 20)
        #expect(next.map { [UInt64($0.stream), $0.offset, $0.timeMs] } == [[1, 8, 1002 + mark]])
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

    @Test func aReadNeverTakesARecordPastItsLimitUnlessItIsTheFirst() throws {
        let spool = try makeSpool()
        defer { spool.remove() }
        for (i, text) in ["a", "b", "c"].enumerated() { append(spool, 1, String(repeating: text, count: 3000), UInt64(i) * 100) }
        _ = spool.seal()
        // Two records (about 6,010 bytes with their headers) fit in 7,000; the third would take it past.
        let (first, middle) = try spool.read(from: 0, maxBytes: 7000)
        #expect(first.map { $0.bytes.readableBytes } == [3000, 3000])
        #expect(middle <= 7000)
        let (rest, _) = try spool.read(from: middle, maxBytes: 7000)
        #expect(rest.map { $0.offset } == [6000])
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

    @Test func addedStreamsAreInJobJSONBeforeTheirBytesAndWrittenOnce() throws {
        var spool: Spool? = try makeSpool()
        let directory = spool!.directory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func written() throws -> [String] {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/job.json"))
            return try ProtocolJSON.decode(Spool.Manifest.self, from: data).streams.map(\.name)
        }
        let ids = (0..<3).map { spool!.addStream(named: "/var/log/f\($0).log", at: 0) }
        #expect(ids == [3, 4, 5])
        #expect(try written() == ["stdout", "stderr"])  // not yet: nothing of them was written
        append(spool!, 4, "x\n", 0)
        #expect(try written() == ["stdout", "stderr", "/var/log/f0.log", "/var/log/f1.log", "/var/log/f2.log"])
        // The uplink announces only streams job.json holds.
        _ = spool!.addStream(named: "/var/log/late.log", at: 0)
        #expect(try spool!.streams(after: 5).map(\.name) == ["/var/log/late.log"] && written().count == 6)
        _ = spool!.seal()
        spool = nil  // killed
        let reopened = try Spool(reopening: directory)
        #expect(reopened.streamSizes[4] == 2 && reopened.manifest.streams.count == 6)
    }

    /// Agents starting at once on one spool root: one asking whether the other's new spool was abandoned
    /// holds its lock for a moment. The one starting waits for it instead of failing, and a spool whose
    /// job.json is not written yet is never reported as abandoned.
    @Test func aSpoolBeingMadeIsNotAbandonedAndAProbesLockDoesNotStopIt() throws {
        let root = NSTemporaryDirectory() + "spool-root-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/j-12345678"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let probe = open(directory + "/spool.bin", O_RDWR | O_CREAT, 0o600)
        defer { close(probe) }
        #expect(Spool.abandoned(under: root).isEmpty)  // spool.bin unlocked, but no job.json yet

        #expect(flock(probe, LOCK_EX | LOCK_NB) == 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { _ = flock(probe, LOCK_UN) }
        let hello = ControlMessage.Hello(job: "j", runId: "r", agent: "t", meta: JobMeta(kind: "run", command: [], host: "h", user: "u", startedAtMs: 0))
        var spool: Spool? = try Spool(directory: directory, hello: hello, streams: [.init(stream: 1, name: "stdout")], maxBytes: 1 << 20)
        #expect(Spool.abandoned(under: root).isEmpty)  // job.json written, and its agent holds the lock
        spool = nil
        #expect(Spool.abandoned(under: root) == [directory])
        _ = spool
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

    /// Reads every chunk the uplink would send, checking each stream arrives contiguous from 0.
    func delivered(_ spool: Spool, from start: UInt64 = 0) throws -> [UInt32: [UInt8]] {
        var streams: [UInt32: [UInt8]] = [:]
        var position = start
        while true {
            let (chunks, end) = try spool.read(from: position, maxBytes: 1 << 20)
            if chunks.isEmpty { break }
            for chunk in chunks {
                #expect(chunk.offset == UInt64(streams[chunk.stream, default: []].count), "contiguous stream \(chunk.stream)")
                streams[chunk.stream, default: []] += Array(chunk.bytes.readableBytesView)
            }
            position = end
        }
        return streams
    }

    @Test func aFullSpoolKeepsTheNewestAndMarksWhatWasLost() throws {
        let spool = try makeSpool(maxBytes: 64 << 10)
        defer { spool.remove() }
        var written: [UInt32: [UInt8]] = [:]
        for index in 0..<2000 {
            let stream: UInt32 = index % 3 == 0 ? 2 : 1
            let line = Array(String(format: "%05d %@\n", index, String(repeating: "z", count: index % 40)).utf8)
            written[stream, default: []] += line
            line.withUnsafeBytes { _ = spool.append(stream: stream, bytes: $0, timeMs: UInt64(index) * 30) }
        }
        _ = spool.seal()
        let streams = try delivered(spool)
        for (stream, bytes) in streams {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("bytes of output lost here"))
            // The newest output is all there, at the end, unchanged.
            let all = written[stream]!
            let tail = Array(text.split(separator: "]\n").last!.utf8)
            #expect(all.suffix(tail.count).elementsEqual(tail))
            #expect(tail.count > 8 << 10)
            #expect(UInt64(bytes.count) == spool.streamSizes[stream])
        }
        #expect(spool.unacknowledgedBytes <= 64 << 10)
    }

    @Test func evictionNeverTakesWhatTheUplinkHasRead() throws {
        let spool = try makeSpool(maxBytes: 64 << 10)
        defer { spool.remove() }
        let line = Array(String(repeating: "r", count: 99).utf8) + [0x0A]
        for index in 0..<500 { line.withUnsafeBytes { _ = spool.append(stream: 1, bytes: $0, timeMs: UInt64(index) * 30) } }
        // The uplink read (and may have sent) all of it; nothing was acknowledged.
        _ = spool.seal()
        let (sent, _) = try spool.read(from: 0, maxBytes: 1 << 20)
        #expect(sent.map(\.bytes.readableBytes).reduce(0, +) == 50_000)
        for index in 0..<300 { line.withUnsafeBytes { _ = spool.append(stream: 1, bytes: $0, timeMs: UInt64(10_000 + index) * 30) } }
        _ = spool.seal()
        let streams = try delivered(spool)
        let text = String(decoding: streams[1]!, as: UTF8.self)
        // The read part is intact; only output read after it was given up, marked, and the newest kept.
        let read = String(repeating: String(repeating: "r", count: 99) + "\n", count: 500)
        #expect(text.hasPrefix(read))
        #expect(text.dropFirst(read.count).hasPrefix("\n[tailcast: "))
        let newest = text.split(separator: "]\n").last!
        #expect(newest.count % 100 == 0 && newest.count >= 5000)
        #expect(newest == Substring(String(repeating: String(repeating: "r", count: 99) + "\n", count: newest.count / 100)))
    }

    @Test func anEvictedSpoolReopensWithTheSameStream() throws {
        var spool: Spool? = try makeSpool(maxBytes: 32 << 10)
        let directory = spool!.directory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for index in 0..<3000 {
            Array("line \(index)\n".utf8).withUnsafeBytes { _ = spool!.append(stream: 1, bytes: $0, timeMs: UInt64(index) * 25) }
        }
        _ = spool!.seal()
        let before = try delivered(spool!)
        let sizes = spool!.streamSizes
        spool = nil
        let reopened = try Spool(reopening: directory)
        #expect(reopened.streamSizes == sizes)
        #expect(try delivered(reopened) == before)
    }
}
