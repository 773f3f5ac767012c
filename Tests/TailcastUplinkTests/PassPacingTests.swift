import Testing

@testable import TailcastAgent

/// When the tailer reads again: at once after a quiet spell, at most once per interval while events
/// keep coming, never later than a reconcile or poll that is due.
@Suite struct PassPacingTests {
    let t0 = ContinuousClock.now

    @Test func holdsOffTheRestOfTheIntervalAfterAPassThenWaitsForEvents() {
        let wait = PassPacing(interval: .milliseconds(2)).wait(passStarted: t0, now: t0 + .microseconds(500), nextLook: t0 + .seconds(1))
        #expect(wait == .init(holdOff: .microseconds(1500), timeout: .milliseconds(998)))
    }

    @Test func aPassLongerThanTheIntervalHoldsOffNothing() {
        let wait = PassPacing(interval: .milliseconds(2)).wait(passStarted: t0, now: t0 + .milliseconds(3), nextLook: t0 + .seconds(1))
        #expect(wait == .init(holdOff: .zero, timeout: .milliseconds(997)))
    }

    @Test func withoutAnIntervalEveryEventIsReadAtOnce() {
        let wait = PassPacing(interval: .zero).wait(passStarted: t0, now: t0 + .microseconds(100), nextLook: t0 + .seconds(1))
        #expect(wait.holdOff == .zero)
    }

    @Test func aLookThatIsDueCutsTheHoldOffShort() {
        let wait = PassPacing(interval: .milliseconds(100)).wait(passStarted: t0, now: t0, nextLook: t0 + .milliseconds(30))
        #expect(wait == .init(holdOff: .milliseconds(30), timeout: .zero))
        let overdue = PassPacing(interval: .milliseconds(2)).wait(passStarted: t0, now: t0 + .milliseconds(1), nextLook: t0)
        #expect(overdue == .init(holdOff: .zero, timeout: .zero))
    }

}
