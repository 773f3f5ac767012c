import NIOCore
import NIOPosix

/// The event loop a client's connections run on, and a task executor on that loop for the code that
/// reads and writes them.
///
/// Why: with swift-websocket's defaults every message crossed threads twice in `watch` (the event loop
/// read it, a cooperative thread printed it) and two or three times in the agent (the reader thread woke
/// a cooperative thread that woke the event loop to send). Each crossing is a futex wake, and on two
/// cores shared with the job, the server and the watchers' readers, a chance to wait for a core
/// (Benchmarks/README, "Fewer threads per line": p50 and the reader's CPU fell; p99 moved less than the
/// machine's noise). A client has one connection at a time, so its handler runs on that connection's
/// own loop: NIO hands a frame to the code waiting for it without waking another thread, and a write
/// from there goes out without one. The price is that this code must not block for long (it may write
/// to a terminal or a pipe, whose back-pressure is the watcher's own, and read and write the agent's
/// spool on the local disk).
public final class ConnectionLoop: TaskExecutor {
    /// Process-wide, like NIO's own singletons: never shut down.
    public static let shared = ConnectionLoop()

    let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop

    private init() {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = self.group.next()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
