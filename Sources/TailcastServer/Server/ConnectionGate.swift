import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import TailcastProtocol
import WSCore

/// Counts WebSocket sessions (agents and watchers) and Server-Sent Events responses together, against
/// `serve --max-connections`.
final class ConnectionGate: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a place; false (and no place taken) when all are taken.
    func enter() -> Bool {
        if self.open.add(1, ordering: .relaxed).newValue <= self.limit { return true }
        self.open.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() { self.open.subtract(1, ordering: .relaxed) }

    /// A place held by a response that streams (Server-Sent Events): given back when the response is
    /// released, whether its body ran to the end, failed, or never ran (a client gone before the head).
    final class Place: Sendable {
        private let gate: ConnectionGate
        fileprivate init(_ gate: ConnectionGate) { self.gate = gate }
        deinit { self.gate.leave() }
    }

    /// Takes a place for a response; nil when all are taken.
    func place() -> Place? {
        self.enter() ? Place(self) : nil
    }

    /// What a client that only reads over HTTP gets when every place is taken: 503, and when to retry.
    func refusal(logger: Logger) -> HTTPError {
        HTTPError(.serviceUnavailable, headers: [.retryAfter: "\(Self.retryAfterSeconds)"], message: self.refused(logger: logger) + "; retry later")
    }

    /// Seconds a refused HTTP client is told to wait (`Retry-After`).
    static let retryAfterSeconds = 5

    func refuse(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        try await outbound.refuseAtStart(inbound, .busy, self.refused(logger: logger) + "; retrying later")
    }

    /// Logs a refusal; what the client is told.
    private func refused(logger: Logger) -> String {
        logger.warning("refused a connection: \(self.limit) are open (--max-connections)")
        return "the server has its limit of \(self.limit) connections open (serve --max-connections)"
    }
}
