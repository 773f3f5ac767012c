import Logging
import NIOPosix
import ServiceLifecycle

/// Compresses the streams of ended jobs at rest (`StreamCompression`), on NIO's thread pool: every
/// `period` it looks for streams of jobs whose exit is stored that are still plain, so a job is
/// compressed within moments of its end, and what a restart found plain (an older archive, a
/// compression a crash discarded) is compressed too.
struct CompressionService: Service {
    let hub: Hub
    let logger: Logger
    static let period: Duration = .seconds(2)
    /// A stream whose compression failed (a full disk) is tried again this much later.
    static let retryAfter: Duration = .seconds(60)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failed: [ObjectIdentifier: ContinuousClock.Instant] = [:]
            while !Task.isCancelled {
                let streams = self.hub.plainEndedStreams()
                // Only streams still waiting: an identifier of a freed file may be reused by a new one.
                failed = failed.filter { key, _ in streams.contains { ObjectIdentifier($0.file) == key } }
                for (job, file) in streams {
                    let key = ObjectIdentifier(file)
                    if let at = failed[key], ContinuousClock.now - at < Self.retryAfter { continue }
                    do {
                        let freed = try await NIOThreadPool.singleton.runIfActive { try StreamCompression.compress(file) }
                        failed[key] = nil
                        self.logger.debug("compressed stream \"\(file.name.escapingControlCharacters)\" of job \(job.id): \(file.size) bytes, \(freed) freed")
                    } catch where job.retirement != nil {
                        // Its job was deleted meanwhile (rm, retention): nothing is left to compress.
                    } catch {
                        failed[key] = ContinuousClock.now
                        self.logger.warning("could not compress stream \"\(file.name.escapingControlCharacters)\" of job \(job.id) (kept plain, retried later): \(error)")
                    }
                }
                try? await Task.sleep(for: Self.period)
            }
        }
    }
}

extension Hub {
    /// Streams with bytes, still plain, of jobs whose exit is stored (they take no more bytes).
    func plainEndedStreams() -> [(job: LiveJob, file: StreamFile)] {
        self.jobs.withLock { Array($0.values) }.filter { $0.hasEnded && $0.retirement == nil }.flatMap { job in
            job.files.filter { $0.size > 0 && $0.members == nil }.map { (job, $0) }
        }
    }
}
