import NIOPosix

/// Runs a task's jobs on NIO's blocking thread pool, for sessions that write files as they go.
///
/// Why: a publish session appended each message on the thread pool (`runIfActive`) from a task on the
/// cooperative threads, so every line crossed four threads in the server (event loop → cooperative → pool
/// → event loop, and back to the cooperative pool to read on); `perf` of a server taking 2,000 one-line
/// messages a second showed a third of its CPU in the scheduler. A session that prefers this executor
/// (`withTaskExecutorPreference`) is resumed from the event loop straight onto a pool thread, where its
/// appends may block, and the cooperative threads still never wait for the disk.
final class BlockingPoolExecutor: TaskExecutor {
    static let shared = BlockingPoolExecutor(pool: .singleton)

    private let pool: NIOThreadPool

    init(pool: NIOThreadPool) {
        self.pool = pool
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Run even when the pool says it is stopping: a job not run is a task that never ends.
        self.pool.submit { _ in job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
