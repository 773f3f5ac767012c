import Testing

@testable import TailcastUplink

@Suite struct UplinkStateMachineTests {
    let t0 = ContinuousClock.now

    func connected(window: Duration = .milliseconds(20), max: UInt64 = 1000) -> UplinkStateMachine {
        var machine = UplinkStateMachine(flushWindow: window, maxUnacknowledged: max)
        machine.connected(durable: [:], ended: false)
        return machine
    }

    @Test func doesNothingWhileDisconnected() {
        let machine = UplinkStateMachine(flushWindow: .milliseconds(20), maxUnacknowledged: 100)
        #expect(machine.next(spoolEnd: 10, jobEnded: false, now: t0) == .disconnected)
    }

    @Test func sendsAtOnceOnAnIdleLinkThenAtMostOncePerFlushWindow() {
        var machine = connected()
        #expect(machine.next(spoolEnd: 10, jobEnded: false, now: t0) == .send(from: 0))
        machine.sent(upTo: 10, offsets: [1: 10], at: t0)
        #expect(machine.next(spoolEnd: 10, jobEnded: false, now: t0) == .idle)
        // more output 5 ms later waits for the window, or until a full batch is waiting: it will be
        // batched with what follows
        #expect(machine.next(spoolEnd: 30, jobEnded: false, now: t0 + .milliseconds(5)) == .waitUntil(t0 + .milliseconds(20), orSpoolAt: 10 + 32 << 10))
        #expect(machine.next(spoolEnd: 60, jobEnded: false, now: t0 + .milliseconds(20)) == .send(from: 10))
    }

    @Test func aFullBatchGoesWithoutWaitingForTheWindow() {
        var machine = UplinkStateMachine(flushWindow: .milliseconds(20), maxUnacknowledged: 1 << 30, fullBatchBytes: 100)
        machine.connected(durable: [:], ended: false)
        machine.sent(upTo: 10, offsets: [1: 10], at: t0)
        #expect(machine.next(spoolEnd: 109, jobEnded: false, now: t0 + .milliseconds(1)) == .waitUntil(t0 + .milliseconds(20), orSpoolAt: 110))
        #expect(machine.next(spoolEnd: 110, jobEnded: false, now: t0 + .milliseconds(1)) == .send(from: 10))
    }

    @Test func waitsForAcksWhenTooMuchIsUnacknowledged() {
        var machine = connected(window: .zero, max: 100)
        machine.sent(upTo: 100, offsets: [1: 90], at: t0)
        #expect(machine.next(spoolEnd: 150, jobEnded: false, now: t0) == .waitForAck)
        #expect(machine.acknowledged(offsets: ["1": 90].mapKeys, ended: false) == 100)
        #expect(machine.next(spoolEnd: 150, jobEnded: false, now: t0) == .send(from: 100))
    }

    @Test func releasesOnlyMessagesWhoseEveryStreamIsAcknowledged() {
        var machine = connected(window: .zero, max: 10_000)
        machine.sent(upTo: 100, offsets: [1: 50, 2: 30], at: t0)
        machine.sent(upTo: 200, offsets: [1: 120], at: t0)
        #expect(machine.acknowledged(offsets: [1: 120], ended: false) == 0)  // stream 2 still short
        #expect(machine.acknowledged(offsets: [2: 30], ended: false) == 200)
        #expect(machine.acknowledgedOffsets == [1: 120, 2: 30])
    }

    @Test func resendsFromTheAcknowledgedPositionAfterAReconnect() {
        var machine = connected(window: .zero, max: 10_000)
        machine.sent(upTo: 100, offsets: [1: 100], at: t0)
        machine.sent(upTo: 200, offsets: [1: 200], at: t0)
        _ = machine.acknowledged(offsets: [1: 100], ended: false)
        _ = machine.disconnected(jitter: 1)
        #expect(machine.next(spoolEnd: 300, jobEnded: false, now: t0) == .disconnected)
        machine.connected(durable: [1: 150], ended: false)
        // from 100, not 200: the second message may not have arrived; the server drops what it has
        #expect(machine.next(spoolEnd: 300, jobEnded: false, now: t0) == .send(from: 100))
        #expect(machine.acknowledgedOffsets[1] == 150)
    }

    @Test func sendsTheEndOnlyAfterEverythingAndFinishesOnItsAck() {
        var machine = connected(window: .zero)
        #expect(machine.next(spoolEnd: 10, jobEnded: true, now: t0) == .send(from: 0))
        machine.sent(upTo: 10, offsets: [1: 10], at: t0)
        #expect(machine.next(spoolEnd: 10, jobEnded: true, now: t0) == .sendEnd)
        machine.endSent()
        #expect(machine.next(spoolEnd: 10, jobEnded: true, now: t0) == .idle)
        _ = machine.acknowledged(offsets: [1: 10], ended: true)
        #expect(machine.next(spoolEnd: 10, jobEnded: true, now: t0) == .finished)
    }

    @Test func progressIsCoalescedAndItsFinalStateGoesBeforeTheEnd() {
        var machine = connected(window: .zero)
        #expect(machine.next(spoolEnd: 0, jobEnded: false, progressPending: true, now: t0) == .sendProgress)
        machine.progressSent(at: t0)
        // another redraw 100 ms later waits for the 250 ms interval; data does not (any growth ends the wait)
        #expect(machine.next(spoolEnd: 0, jobEnded: false, progressPending: true, now: t0 + .milliseconds(100)) == .waitUntil(t0 + .milliseconds(250), orSpoolAt: 1))
        #expect(machine.next(spoolEnd: 5, jobEnded: false, progressPending: true, now: t0 + .milliseconds(100)) == .send(from: 0))
        machine.sent(upTo: 5, offsets: [1: 5], at: t0)
        // the job ended: the last state goes at once, then the end
        #expect(machine.next(spoolEnd: 5, jobEnded: true, progressPending: true, now: t0 + .milliseconds(101)) == .sendProgress)
        machine.progressSent(at: t0 + .milliseconds(101))
        #expect(machine.next(spoolEnd: 5, jobEnded: true, progressPending: false, now: t0 + .milliseconds(101)) == .sendEnd)
    }

    @Test func aServerThatAlreadyHasTheEndFinishesAtOnce() {
        var machine = UplinkStateMachine(flushWindow: .zero, maxUnacknowledged: 10)
        machine.connected(durable: [1: 10], ended: true)
        #expect(machine.next(spoolEnd: 10, jobEnded: true, now: t0) == .finished)
    }

    @Test func backsOffExponentiallyWithJitterUpToFiveSeconds() {
        var machine = connected()
        var delays: [Duration] = []
        for _ in 0..<10 { delays.append(machine.disconnected(jitter: 1)) }
        #expect(delays.prefix(4) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
        #expect(delays.last == .seconds(5))
        #expect(UplinkStateMachine.backoff(attempt: 3, jitter: 0.5) == .milliseconds(200))
        machine.connected(durable: [:], ended: false)
        #expect(machine.disconnected(jitter: 1) == .milliseconds(100))
    }
}

extension Dictionary where Key == String, Value == UInt64 {
    var mapKeys: [UInt32: UInt64] { Dictionary<UInt32, UInt64>(uniqueKeysWithValues: self.map { (UInt32($0.key)!, $0.value) }) }
}
