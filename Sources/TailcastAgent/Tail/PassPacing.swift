/// When the tailer reads again after a pass, decided without I/O. An event after a quiet spell is read
/// at once; while events keep coming, at most one pass per `interval` starts (the kernel keeps the
/// events meanwhile), so a file written line by line costs a pass per interval, not one per write.
public struct PassPacing: Equatable {
    /// What to do after a pass: sleep `holdOff`, then wait up to `timeout` for events.
    struct Wait: Equatable {
        var holdOff: Duration
        var timeout: Duration
    }

    /// A line waits up to this long for its pass while its file is busy. Measured side by side with
    /// Benchmarks/run (1,000 files, 10 written at 100 lines/s; a loaded machine): 100 ms cost 11.1 % of
    /// a core, 2 ms 10.2 %, since writes come in bursts and one pass takes each burst. At 2,000 lines/s
    /// the p99 from write to server went from 99 ms to 21 ms (the 20 ms flush window and this).
    public static let busyInterval: Duration = .milliseconds(2)

    var interval: Duration

    /// `passStarted`: when the pass that just ended began; `nextLook`: when files must be looked at
    /// whatever the events (a reconcile, or polling a silent directory). The hold-off never delays that.
    func wait(passStarted: ContinuousClock.Instant, now: ContinuousClock.Instant, nextLook: ContinuousClock.Instant) -> Wait {
        let holdOff = max(.zero, min(passStarted + self.interval, nextLook) - now)
        return Wait(holdOff: holdOff, timeout: max(.zero, nextLook - (now + holdOff)))
    }
}
