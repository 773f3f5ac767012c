import Synchronization
import TailcastProgress
import TailcastProtocol

/// The latest state of a job's progress bars, from its output and from `tailcast progress`. The uplink
/// takes what changed and sends it; a redraw storm costs only the latest state.
///
/// Every bar leaves here with a rate and, when its total is known, a time left: the ones its program shows
/// (tqdm, curl, wget…) when it shows them, otherwise measured from the bar's updates (RateEstimator), so
/// watchers only display what they get.
public final class ProgressTracker: Sendable {
    struct State {
        var bars: [String: ProgressState] = [:]
        var estimators: [String: RateEstimator] = [:]
        var unsent: Set<String> = []
        var hasExplicit = false
    }

    private let state = Mutex(State())
    private let notifier = ChangeNotifier<Void>()

    public init() {}

    /// Calls `observer` whenever a bar changed.
    public func observe(_ observer: @escaping @Sendable () -> Void) { self.notifier.observe(observer) }

    /// Bars recognised in the output. Ignored once the job reports progress itself: explicit wins.
    public func record(parsed events: [ProgressEvent], timeMs: UInt64) {
        guard !events.isEmpty else { return }
        let changed = self.state.withLock { state -> Bool in
            guard !state.hasExplicit else { return false }
            for event in events {
                state.bars[event.key] = Self.measured(
                    ProgressState(
                        key: event.key, label: event.label, current: event.current, total: event.total,
                        unit: event.unit, rate: event.rate, etaSeconds: event.etaSeconds, source: .parsed,
                        updatedMs: timeMs),
                    in: &state)
                state.unsent.insert(event.key)
            }
            return true
        }
        if changed { self.notifier.notify(()) }
    }

    /// A bar the job reported with `tailcast progress`.
    public func record(explicit bar: ProgressState) {
        self.state.withLock { state in
            if !state.hasExplicit {
                state.hasExplicit = true
                state.bars = state.bars.filter { $0.value.source == .explicit }
                state.estimators = state.estimators.filter { state.bars[$0.key] != nil }
                state.unsent = state.unsent.filter { state.bars[$0] != nil }
            }
            state.bars[bar.key] = Self.measured(bar, in: &state)
            state.unsent.insert(bar.key)
        }
        self.notifier.notify(())
    }

    /// `bar` with the rate and time left its program did not show, measured at its `updatedMs`.
    private static func measured(_ bar: ProgressState, in state: inout State) -> ProgressState {
        var bar = bar
        let measuredRate = state.estimators[bar.key, default: RateEstimator()].observe(
            current: bar.current, atMs: bar.updatedMs)
        if bar.rate == nil { bar.rate = measuredRate }
        if bar.etaSeconds == nil, let total = bar.total, let rate = bar.rate {
            bar.etaSeconds = RateEstimator.secondsLeft(current: bar.current, total: total, rate: rate)
        }
        return bar
    }

    public var hasUnsent: Bool { self.state.withLock { !$0.unsent.isEmpty } }

    /// The bars changed since the last call.
    public func takeUnsent() -> [ProgressState] {
        self.state.withLock { state in
            let bars = state.unsent.sorted().compactMap { state.bars[$0] }
            state.unsent = []
            return bars
        }
    }

    /// A new connection: the server may have missed anything, so everything is unsent again.
    public func markAllUnsent() {
        self.state.withLock { $0.unsent = Set($0.bars.keys) }
    }

    /// The job ended: every bar is in its final state.
    public func finishAll() {
        self.state.withLock { state in
            for key in state.bars.keys {
                state.bars[key]!.done = true
                state.unsent.insert(key)
            }
        }
        self.notifier.notify(())
    }

    public var bars: [ProgressState] { self.state.withLock { Array($0.bars.values) } }
}
