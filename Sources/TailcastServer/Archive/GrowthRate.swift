/// How fast a stream grows, smoothed over its last appends: the level its live batches are deflated at
/// follows it (`DeflaterPool.level`). An estimate, decided without I/O; the clock is the caller's.
struct GrowthRate: Equatable {
    private(set) var bytesPerSecond = 0.0
    private var lastAppend: ContinuousClock.Instant?

    /// An append of `bytes` at `now`. The first one only starts the clock; a gap under a millisecond
    /// counts as one, so a burst of appends reads as fast, not as infinite.
    mutating func appended(_ bytes: Int, at now: ContinuousClock.Instant) {
        defer { self.lastAppend = now }
        guard let last = self.lastAppend else { return }
        let gap = now - last
        let seconds = max(0.001, Double(gap.components.seconds) + Double(gap.components.attoseconds) / 1e18)
        self.bytesPerSecond = 0.7 * self.bytesPerSecond + 0.3 * Double(bytes) / seconds
    }
}
