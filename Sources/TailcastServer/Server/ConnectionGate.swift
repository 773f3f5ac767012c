import Logging
import Synchronization
import TailcastProtocol
import WSCore

/// Counts WebSocket sessions, agents and watchers together, against `serve --max-connections`.
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

    func refuse(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        logger.warning("refused a connection: \(self.limit) are open (--max-connections)")
        try await outbound.refuseAtStart(inbound, .busy, "the server has its limit of \(self.limit) connections open (serve --max-connections); retrying later")
    }
}
