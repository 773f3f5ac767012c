import Foundation
import Testing

@testable import TailcastAgent
import TailcastProtocol

/// A sidecar whose spool holds `maxUnacknowledged` stops reading its files, and reads on as soon as the
/// server acknowledges (the spool releases), not at its next reconcile. A real file, a real spool and the
/// tailer on its own thread; this test plays the uplink, reading the spool and releasing what it read.
@Suite struct TailerBackPressureTests {
    @Test func readingResumesWhenTheSpoolReleasesNotAtTheNextReconcile() throws {
        let folder = NSTemporaryDirectory() + "backpressure-\(UUID().uuidString)"
        // The log in a folder of its own: the spool's and the checkpoints' writes must not wake the tailer.
        try FileManager.default.createDirectory(atPath: folder + "/logs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let line = Array("a line of a log that fills the spool faster than the server acknowledges it\n".utf8)
        let lines = (5 << 20) / line.count
        try Data((0..<lines).flatMap { _ in line }).write(to: URL(fileURLWithPath: folder + "/logs/app.log"))
        let size = lines * line.count

        let hello = ControlMessage.Hello(job: "j", runId: "r", agent: "t", meta: JobMeta(kind: "tail", command: [], host: "h", user: "u", startedAtMs: 0))
        let spool = try Spool(directory: folder + "/spool", hello: hello, streams: [], maxBytes: 1 << 30)
        // The reconcile is a minute away: only a wake-up can make the tailer read on within the test.
        let bound: UInt64 = 256 << 10
        let tailer = Tailer(
            options: .init(patterns: [PathPattern(folder + "/logs/app.log")], excludes: [], fromStart: true,
                           reconcileInterval: .seconds(60), maxUnacknowledged: bound),
            spool: spool, checkpointPath: folder + "/checkpoints.json", acknowledged: { [:] }, warn: { _ in },
            restored: nil, progress: ProgressTracker())
        let stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            tailer.run(drainTimeout: .zero)
            stopped.signal()
        }

        var position: UInt64 = 0
        var read = 0
        var stalls = 0
        let deadline = Date().addingTimeInterval(20)
        while read < size, Date() < deadline {
            // Waits until the tailer has stopped reading (the spool full to its bound, and still),
            // then acknowledges everything, as an ack from the server does.
            let before = spool.seal()
            Thread.sleep(forTimeInterval: 0.05)
            let end = spool.seal()
            guard end > position, end == before, spool.unacknowledgedBytes >= bound || read + Int(end - position) >= size else { continue }
            while position < end {
                let (chunks, next) = try spool.read(from: position, maxBytes: 1 << 20)
                read += chunks.reduce(0) { $0 + $1.bytes.readableBytes }
                position = next
            }
            if read < size { stalls += 1 }
            spool.release(upTo: position)
        }
        Thread.sleep(forTimeInterval: 0.2)  // the tailer settles into its wait for the reconcile a minute away
        tailer.stop()
        #expect(stopped.wait(timeout: .now() + 10) == .success)  // stop cuts that wait short
        #expect(read == size)
        #expect(stalls >= 3)  // the bound held: it stopped reading several times on the way (1 MiB a read)
    }
}
