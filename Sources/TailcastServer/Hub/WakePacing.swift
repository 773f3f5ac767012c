import NIOCore

/// When a job wakes its watchers after appends, decided without I/O. With a few watchers, at once on every
/// append (latency first). With many, at most once per `interval(watchers:)`: the first append after a
/// quiet spell still wakes them at once, later ones wait for the interval's end and share that wake-up, so
/// every watcher is written fewer, larger (better compressed) batches and no append waits longer than it.
struct WakePacing {
    enum Action: Equatable {
        case wakeNow
        /// Schedule one wake-up then; call `scheduledWakeUp` when it fires.
        case wakeAt(NIODeadline)
        /// A wake-up is scheduled already and will take this append too.
        case nothing
    }

    /// 50 µs per watcher from 64 watchers on, at most 50 ms. Measured at 2,000 lines/s with 1,000 watchers
    /// (Benchmarks/fanout.py, one loaded machine): at most 25 ms cost 1.22 cores (p99 121 ms), 50 ms 0.77
    /// (p99 116 ms); a fixed 50 ms pause after each append (the earlier scheme) 0.41 cores but p99 311 ms.
    /// Measured again with batches made from memory (two interleaved rounds, load average 6): a 25 ms cap
    /// took 0.82 cores and p99 879 and 1,226 ms, this 50 ms cap 0.71–0.74 cores and p99 303 and 470 ms; on
    /// a quiet machine this cap gives p99 93–102 ms.
    static func interval(watchers: Int) -> TimeAmount? {
        watchers < 64 ? nil : .microseconds(Int64(min(50_000, watchers * 50)))
    }

    private var lastWake = NIODeadline.distantPast
    private var scheduled = false

    mutating func appended(watchers: Int, now: NIODeadline) -> Action {
        guard let interval = Self.interval(watchers: watchers) else { return .wakeNow }
        if self.scheduled { return .nothing }
        if now >= self.lastWake + interval {
            self.lastWake = now
            return .wakeNow
        }
        self.scheduled = true
        return .wakeAt(self.lastWake + interval)
    }

    mutating func scheduledWakeUp(now: NIODeadline) {
        self.scheduled = false
        self.lastWake = now
    }
}
