import Testing

@testable import TailcastProgress

@Suite struct RateEstimatorTests {
    @Test func measuresNothingFromOneUpdateOrFromASecondTooSoon() {
        var estimator = RateEstimator()
        #expect(estimator.observe(current: 0, atMs: 10_000) == nil)
        #expect(estimator.observe(current: 5, atMs: 10_500) == nil)
    }

    @Test func measuresASteadyBar() {
        var estimator = RateEstimator()
        var rate: Double?
        for tick in 0...40 {  // 4 items per second, one update every 250 ms
            rate = estimator.observe(current: Double(tick), atMs: 1_000 + UInt64(tick) * 250)
        }
        #expect(rate == 4)
        #expect(RateEstimator.secondsLeft(current: 40, total: 100, rate: 4) == 15)
    }

    @Test func followsAChangeOfPaceWithinTheWindow() {
        var estimator = RateEstimator()
        var current = 0.0
        var rate: Double?
        for second in 0...31 {  // 10/s for 20 s, then 2/s
            current += second <= 20 ? 10 : 2
            rate = estimator.observe(current: current, atMs: UInt64(second) * 1_000)
        }
        // The last 10 s were all at 2/s: the fast start is forgotten.
        #expect(rate == 2)
    }

    @Test func measuresABarUpdatedLessOftenThanTheWindowBetweenItsUpdates() {
        var estimator = RateEstimator()
        _ = estimator.observe(current: 1, atMs: 0)
        _ = estimator.observe(current: 2, atMs: 30_000)
        let rate = estimator.observe(current: 3, atMs: 60_000)
        #expect(rate.map { abs($0 - 1.0 / 30) < 1e-12 } == true)
    }

    @Test func startsOverWhenTheCountGoesBack() {
        var estimator = RateEstimator()
        _ = estimator.observe(current: 0, atMs: 0)
        _ = estimator.observe(current: 10, atMs: 5_000)
        #expect(estimator.observe(current: 1, atMs: 5_200) == nil)
        #expect(estimator.observe(current: 5, atMs: 7_200) == 2)
    }

    @Test func keepsFewSamplesUnderARedrawStorm() {
        var estimator = RateEstimator()
        for ms in stride(from: UInt64(0), through: 60_000, by: 10) {
            _ = estimator.observe(current: Double(ms), atMs: ms)
        }
        #expect(estimator.samples.count <= Int(RateEstimator.windowMs / RateEstimator.spacingMs) + 3)
        #expect(estimator.observe(current: 60_010, atMs: 60_010) == 1000)
    }

    @Test func saysNothingIsLeftOnceTheTotalIsReachedAndNothingWhileStalled() {
        #expect(RateEstimator.secondsLeft(current: 10, total: 10, rate: 0) == 0)
        #expect(RateEstimator.secondsLeft(current: 5, total: 10, rate: 0) == nil)
    }
}
