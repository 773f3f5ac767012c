import NIOWebSocket
import Synchronization
import WSCore

/// The server's shutdown as its WebSocket sessions see it: on SIGTERM or SIGINT every session is closed
/// with 1001 (going away) before the HTTP server stops, and a session that starts meanwhile is closed
/// at once. Left to the WebSocket library, they were closed with 1000, which PROTOCOL.md gives to a
/// delivered, finished or caught-up session: a client then could not tell a restart from the end.
public final class Departure: Sendable {
    private struct State {
        var leaving = false
        var sessions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
    }

    static let reason = "server shutting down; reconnect and resume"

    private let state = Mutex(State())

    public init() {}

    /// Runs a session that is closed with 1001 when the server leaves.
    func session(_ outbound: WebSocketOutboundWriter, _ body: () async throws -> Void) async throws {
        let close: @Sendable () -> Void = {
            Task { try? await outbound.close(.goingAway, reason: Self.reason) }
        }
        let id = self.state.withLock { state -> UInt64? in
            guard !state.leaving else { return nil }
            state.nextID += 1
            state.sessions[state.nextID] = close
            return state.nextID
        }
        guard let id else {
            return try await outbound.close(.goingAway, reason: Self.reason)
        }
        defer { _ = self.state.withLock { $0.sessions.removeValue(forKey: id) } }
        try await body()
    }

    var sessionCount: Int { self.state.withLock { $0.sessions.count } }

    /// Closes every session with 1001 and waits (at most `limit`) for their clients to answer the close.
    public func closeSessions(waitingAtMost limit: Duration) async {
        let closes = self.state.withLock { state in
            state.leaving = true
            return Array(state.sessions.values)
        }
        for close in closes { close() }
        let deadline = ContinuousClock.now + limit
        while self.sessionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
