import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

extension TailcastServer {
    /// Runs the server until SIGTERM or SIGINT, then closes every WebSocket session with 1001 (going away;
    /// clients reconnect and resume) before the server stops as Hummingbird stops it: open HTTP requests
    /// finish first.
    public static func run(_ app: any ApplicationProtocol, departure: Departure, logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    logger.notice("shutting down: closing WebSocket sessions (1001), then the server")
                    await departure.closeSessions(waitingAtMost: .seconds(3))
                    await group.triggerGracefulShutdown()
                    break
                }
                return false
            }
            // The server's end is the end, whether a signal or an error brought it.
            while let serverEnded = try await tasks.next(), !serverEnded {}
            tasks.cancelAll()
        }
    }
}
