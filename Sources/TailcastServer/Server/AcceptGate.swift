import Logging
import NIOCore
import Synchronization

/// Counts every TCP connection when it is accepted (`ConnectionTable`), shared by all event loops, and closes the
/// connections the table evicts or refuses.
final class AcceptGate: Sendable {
    private let table: Mutex<ConnectionTable<any Channel>>
    private let metrics: ConnectionMetrics
    let limit: Int

    init(limit: Int, metrics: ConnectionMetrics) {
        self.limit = limit
        self.table = Mutex(ConnectionTable(limit: limit))
        self.metrics = metrics
    }

    /// Counts `channel` until it closes; nil when it was refused (and closed).
    func admit(_ channel: any Channel, logger: Logger) -> ConnectionTable<any Channel>.ID? {
        switch self.table.withLock({ $0.accept(channel) }) {
        case .refused:
            self.metrics.closed(.full)
            logger.info("refused a connection from \(channel.remoteAddress?.description ?? "?"): all \(self.limit) places are taken by connections past their request head")
            channel.close(promise: nil)
            return nil
        case .admitted(let id, let evicted):
            self.metrics.open.increment()
            channel.closeFuture.whenComplete { _ in
                self.table.withLock { $0.closed(id) }
                self.metrics.open.decrement()
            }
            if let evicted {
                self.metrics.closed(.evicted)
                logger.debug("closing the oldest connection still without a request head to make room for a new one")
                // Its `RequestHeadHandler` closes it on its own event loop; should the head have passed meanwhile, it
                // stays open, uncounted until it closes: one place over the limit for a while, never a leak.
                evicted.pipeline.fireUserInboundEventTriggered(RequestHeadHandler.Evict())
            }
            return id
        }
    }

    func headComplete(_ id: ConnectionTable<any Channel>.ID) {
        self.table.withLock { $0.headComplete(id) }
    }
}
