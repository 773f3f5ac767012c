import Foundation
import Logging
import Metrics
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import TailcastProtocol
@testable import TailcastServer

/// A job and a watcher waiting at its live end, on a real archive in a temporary folder and an embedded
/// channel (no sockets): what the job writes to the watcher itself, and when it wakes the session instead.
@Suite struct LiveJobTests {
    final class Fixture {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("livejob-\(UUID().uuidString)").path
        let job: LiveJob
        let stdout: StreamFile
        let channel = EmbeddedChannel()
        let wakeUps: AsyncStream<Void>

        init() throws {
            let hub = try Hub(archive: Archive(root: self.folder, maxOpenFiles: 64, logger: Logger(label: "test")))
            let hello = ControlMessage.Hello(
                job: "j", runId: "r", agent: "a", meta: JobMeta(kind: "run", command: ["x"], host: "h", user: "u", startedAtMs: 1))
            self.job = try hub.jobForPublisher(hello, owner: "", maxJobs: 10)
            _ = try self.job.attachPublisher(hello, owner: "", connection: 1)
            self.stdout = try self.job.openStream(named: "stdout")
            self.wakeUps = self.job.subscribe(7)
        }

        deinit { try? FileManager.default.removeItem(atPath: self.folder) }

        var output: LiveJob.LiveOutput {
            .init(channel: self.channel, deflates: false, relayed: Counter(label: "test_relayed"))
        }

        func append(_ text: String, at offset: UInt64) throws {
            _ = try self.job.append(
                DataChunk(stream: 1, offset: offset, timeMs: 1000 + offset, bytes: ByteBuffer(string: text)), to: self.stdout, connection: 1)
            self.job.bytesAppended()
        }

        /// The data messages written to the channel, as the stream bytes they carry.
        func written() throws -> [String] {
            self.channel.embeddedEventLoop.run()
            var texts: [String] = []
            while let frame = try self.channel.readOutbound(as: WebSocketFrame.self) {
                #expect(frame.opcode == .binary && frame.fin && !frame.rsv1)
                let chunks = try DataMessage.decode(frame.unmaskedData)
                texts.append(chunks.map { String(buffer: $0.bytes) }.joined())
            }
            return texts
        }

        /// True if the session's wake-up is buffered (it would not wait).
        func woken() async -> Bool {
            let wakeUps = self.wakeUps
            return await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var iterator = wakeUps.makeAsyncIterator()
                    return await iterator.next() != nil
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(300))
                    return false
                }
                let first = await group.next()!
                group.cancelAll()
                return first
            }
        }
    }

    @Test func bytesAppendedAtTheLiveEndAreWrittenByTheJobWithoutWakingTheSession() async throws {
        let fixture = try Fixture()
        try fixture.append("one\n", at: 0)
        #expect(fixture.job.enterLive(7, output: fixture.output, offsets: [1: 4], seenVersion: fixture.job.changeVersion))
        try fixture.append("two\n", at: 4)
        try fixture.append("three\n", at: 8)
        #expect(try fixture.written() == ["two\n", "three\n"])
        // The session takes back how far the job sent; it was never woken for those bytes, only by the
        // first append, before it waited.
        #expect(fixture.job.leaveLive(7) == [1: 14])
        #expect(await fixture.woken())
        #expect(await !fixture.woken())
    }

    @Test func aChangeBesidesBytesWakesAWatcherThatWaitsAtTheLiveEnd() async throws {
        let fixture = try Fixture()
        #expect(fixture.job.enterLive(7, output: fixture.output, offsets: [1: 0], seenVersion: fixture.job.changeVersion))
        fixture.job.updateProgress([ProgressState(key: "k", current: 1, total: 2, source: .explicit, updatedMs: 1)])
        #expect(await fixture.woken())
        // Ejected: bytes now wait for the session, which goes on from where the job left it.
        try fixture.append("late\n", at: 0)
        #expect(try fixture.written().isEmpty)
        #expect(fixture.job.leaveLive(7) == [1: 0])
    }

    @Test func aWatcherThatLooksBeforeAChangeIsTurnedBackFromTheLiveEnd() async throws {
        let fixture = try Fixture()
        // 64 watchers: wake-ups are paced (`WakePacing`), the first one at once, later ones gathered.
        let others = (100..<163).map { fixture.job.subscribe(UInt64($0)) }
        fixture.job.bytesAppended()
        #expect(await fixture.woken())
        // The session takes its snapshot here, then progress changes, then the session would wait at the live
        // end: the change's paced wake-up skips watchers the job serves, so it must not enter.
        let seen = fixture.job.changeVersion
        fixture.job.updateProgress([ProgressState(key: "k", current: 1, total: 2, source: .explicit, updatedMs: 1)])
        #expect(!fixture.job.enterLive(7, output: fixture.output, offsets: [1: 0], seenVersion: seen))
        // It looks again instead; had it waited anyway, the gathered wake-up reaches it.
        #expect(await fixture.woken())
        withExtendedLifetime(others) {}
    }

    @Test func aWatcherWhoseEventLoopDoesNotRunIsHandedBackAfterABoundedBacklog() async throws {
        let fixture = try Fixture()
        #expect(fixture.job.enterLive(7, output: fixture.output, offsets: [1: 0], seenVersion: fixture.job.changeVersion))
        // 40 appends of 32 KiB while the channel's loop runs nothing: what the job hands it stays queued.
        let piece = String(repeating: "x", count: (32 << 10) - 1) + "\n"
        for index in 0..<40 { try fixture.append(piece, at: UInt64(index * piece.utf8.count)) }
        #expect(await fixture.woken())
        let sent = fixture.job.leaveLive(7)[1] ?? 0
        let written = try fixture.written()
        #expect(written.count >= 31 && written.count <= 33, "about 1 MiB handed over, then the session's turn: \(written.count) batches")
        #expect(UInt64(written.joined().utf8.count) == sent)
        #expect(sent < UInt64(40 * piece.utf8.count))
    }
}
