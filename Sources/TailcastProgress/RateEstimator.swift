/// The rate and remaining time of one bar, measured from the states it went through, for the programs and
/// reports that do not say (`N/M` counters, `tailcast progress`, most of the shapes without a clock).
///
/// The rate is the progress over the last `window` divided by its time: long enough to smooth a bar that moves in
/// bursts, short enough to follow a job that speeds up or slows down. A bar updated less often than that (an
/// explicit report per epoch) is measured between its last two updates. Times are passed in, never read, so the
/// estimator is a pure function of what it was shown.
public struct RateEstimator: Sendable {
    /// How far back the rate looks.
    public static let windowMs: UInt64 = 10_000
    /// No rate from updates closer together than this: a bar's first redraws say little about its pace.
    public static let minimumSpanMs: UInt64 = 1_000
    /// Samples closer together than this are merged, which bounds the samples to window / spacing + 3.
    static let spacingMs: UInt64 = 250

    struct Sample: Equatable, Sendable {
        var timeMs: UInt64
        var current: Double
    }

    private(set) var samples: [Sample] = []

    public init() {}

    /// Notes that the bar is at `current` at `timeMs`; returns its rate in units per second, nil until updates
    /// span `minimumSpanMs`. A count that goes back (the program started over) starts a new measurement.
    public mutating func observe(current: Double, atMs timeMs: UInt64) -> Double? {
        let sample = Sample(timeMs: timeMs, current: current)
        if let last = samples.last, current < last.current || timeMs < last.timeMs { samples.removeAll() }
        if samples.count >= 2, timeMs - samples[samples.count - 2].timeMs < Self.spacingMs {
            samples[samples.count - 1] = sample
        } else {
            samples.append(sample)
        }
        // One sample at or before the window's start stays as the baseline.
        while samples.count > 2, samples[1].timeMs + Self.windowMs <= timeMs { samples.removeFirst() }
        guard let first = samples.first, timeMs - first.timeMs >= Self.minimumSpanMs else { return nil }
        return (current - first.current) * 1000 / Double(timeMs - first.timeMs)
    }

    /// Seconds from `current` to `total` at `rate`; nil while the bar does not move.
    public static func secondsLeft(current: Double, total: Double, rate: Double) -> Double? {
        if current >= total { return 0 }
        return rate > 0 ? (total - current) / rate : nil
    }
}
