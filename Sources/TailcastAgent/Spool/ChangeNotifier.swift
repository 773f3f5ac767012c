import Synchronization

/// Calls every observer, on the changing thread, when something changed. Observers decide whether the
/// change is worth a wake-up (see `WakeSignal`): a job writing 2,000 lines a second appends 2,000 times,
/// and a task wake-up per append cost more CPU than reading and sending the lines.
public final class ChangeNotifier<Value: Sendable>: Sendable {
    private let observers = Mutex<[@Sendable (Value) -> Void]>([])

    public init() {}

    public func observe(_ observer: @escaping @Sendable (Value) -> Void) {
        self.observers.withLock { $0.append(observer) }
    }

    public func notify(_ value: Value) {
        for observer in self.observers.withLock({ $0 }) { observer(value) }
    }
}
