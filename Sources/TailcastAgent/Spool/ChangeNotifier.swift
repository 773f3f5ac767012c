import Synchronization

/// Wakes every subscriber when something changed; each subscriber sees bursts as one wake-up.
public final class ChangeNotifier: Sendable {
    private let listeners = Mutex<[AsyncStream<Void>.Continuation]>([])

    public init() {}

    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.listeners.withLock { $0.append(continuation) }
        return stream
    }

    public func notify() {
        for listener in self.listeners.withLock({ $0 }) { listener.yield() }
    }
}
