import NIOCore
import Testing

@testable import TailcastServer

@Suite struct BatchCacheTests {
    static func batch(_ stream: UInt32, _ from: UInt64, _ end: UInt64, cost: Int = 10) -> PreparedBatch {
        PreparedBatch(
            stream: stream, from: from, end: end, message: ByteBuffer(repeating: 1, count: cost / 2),
            deflated: ByteBuffer(repeating: 2, count: cost - cost / 2))
    }

    @Test func watchersAtTheSamePlaceShareOneBatch() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 100, maxBytes: 64) == .make(from: 0, upTo: 64))
        cache.keep(Self.batch(1, 0, 64))
        // The second watcher at 0 gets the same batch, even though more has arrived since.
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 300, maxBytes: 64) == .use(Self.batch(1, 0, 64)))
        // Another stream at the same offset is another batch.
        #expect(cache.plan(.init(), stream: 2, from: 0, upTo: 100, maxBytes: 64) == .make(from: 0, upTo: 64))
    }

    @Test func aBatchReachingPastWhatAWatcherMaySendIsNotUsed() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        cache.keep(Self.batch(1, 0, 64))
        // A watcher that started without follow may send only up to 40: it makes its own batch.
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 40, maxBytes: 64) == .make(from: 0, upTo: 40))
    }

    @Test func aWatcherJoiningBetweenEdgesStopsAtTheNextKeptBatch() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        cache.keep(Self.batch(1, 0, 50))
        cache.keep(Self.batch(1, 50, 90))
        // Joined at 20 (resumed by offset): its own batch up to 50, then it shares from 50 on.
        #expect(cache.plan(.init(), stream: 1, from: 20, upTo: 90, maxBytes: 64) == .make(from: 20, upTo: 50))
        #expect(cache.plan(.init(), stream: 1, from: 50, upTo: 90, maxBytes: 64) == .use(Self.batch(1, 50, 90)))
        // Past every kept batch: a new edge, which the next watcher there will share.
        #expect(cache.plan(.init(), stream: 1, from: 90, upTo: 95, maxBytes: 64) == .make(from: 90, upTo: 95))
    }

    @Test func theOldestBatchesGoFirstAndTheBoundHolds() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 35, maxCount: 100)
        cache.keep(Self.batch(1, 0, 10))
        cache.keep(Self.batch(1, 10, 20))
        cache.keep(Self.batch(1, 20, 30))
        #expect(cache.count == 3 && cache.bytes == 30)
        cache.keep(Self.batch(1, 30, 40))
        #expect(cache.count == 3 && cache.bytes == 30)
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 40, maxBytes: 64) == .make(from: 0, upTo: 10))
        #expect(cache.plan(.init(), stream: 1, from: 30, upTo: 40, maxBytes: 64) == .use(Self.batch(1, 30, 40)))
        // A batch larger than the whole bound is sent but not kept.
        cache.keep(Self.batch(2, 0, 100, cost: 100))
        #expect(cache.count == 3)
    }

    @Test func theOldestBatchesGoFirstPastTheCountBound() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 2)
        for from in UInt64(0)..<3 { cache.keep(Self.batch(1, from, from + 1)) }
        // The oldest went though the bytes are far below their bound.
        #expect(cache.count == 2 && cache.bytes == 20)
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 3, maxBytes: 64) == .make(from: 0, upTo: 1))
        #expect(cache.plan(.init(), stream: 1, from: 2, upTo: 3, maxBytes: 64) == .use(Self.batch(1, 2, 3)))
    }

    @Test func aPlaceIsKeptOnceWhenTwoWatchersMadeItAtOnce() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        cache.keep(Self.batch(1, 0, 64))
        cache.keep(Self.batch(1, 0, 70))
        #expect(cache.count == 1 && cache.plan(.init(), stream: 1, from: 0, upTo: 100, maxBytes: 64) == .use(Self.batch(1, 0, 64)))
    }

    @Test func watchersWokenTogetherJoinTheBatchBeingMade() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 100, maxBytes: 64) == .make(from: 0, upTo: 64))
        cache.making(.init(), stream: 1, from: 0, end: 64, 7)
        // Everyone else at 0 who may send that far waits for maker 7 instead of making it again.
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 64, maxBytes: 64) == .join(7))
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 500, maxBytes: 64) == .join(7))
        // One whose bound is below that batch's end makes its own, and is not recorded as the maker.
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 40, maxBytes: 64) == .make(from: 0, upTo: 40))
        cache.making(.init(), stream: 1, from: 0, end: 40, 8)
        #expect(cache.plan(.init(), stream: 1, from: 0, upTo: 64, maxBytes: 64) == .join(7))
        // Kept: the batch itself from now on, and nothing is being made any more.
        cache.keep(Self.batch(1, 0, 64))
        #expect(cache.makingCount == 0 && cache.plan(.init(), stream: 1, from: 0, upTo: 64, maxBytes: 64) == .use(Self.batch(1, 0, 64)))
    }

    @Test func aFailedMakingIsMadeAnewByTheNextWatcher() {
        var cache = BatchCache<PreparedBatch, Int>(maxBytes: 1000, maxCount: 100)
        cache.making(.init(), stream: 1, from: 0, end: 64, 7)
        cache.abandon(.init(), stream: 1, from: 0)
        #expect(cache.makingCount == 0 && cache.plan(.init(), stream: 1, from: 0, upTo: 100, maxBytes: 64) == .make(from: 0, upTo: 64))
    }

    @Test func aDeflatedBatchIsSmallAndStandsAlone() throws {
        var message = ByteBuffer()
        for i in 0..<2000 { message.writeString("line \(i) of a log that repeats itself\n") }
        let deflated = try DeflaterPool.shared.deflate(message)
        #expect(deflated.readableBytes < message.readableBytes / 4)
        // Twice in a row from the pool: the deflater was reset, so both are the same stand-alone message.
        #expect(try DeflaterPool.shared.deflate(message) == deflated)
    }
}

@Suite struct WakePacingTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func fewWatchersAreWokenOnEveryAppend() {
        var pacing = WakePacing()
        for step in 0..<5 {
            #expect(pacing.appended(watchers: 63, now: Self.start + .microseconds(Int64(step))) == .wakeNow)
        }
    }

    @Test func theIntervalGrowsWithTheWatchersAndIsBounded() {
        #expect(WakePacing.interval(watchers: 63) == nil)
        #expect(WakePacing.interval(watchers: 100) == .milliseconds(5))
        #expect(WakePacing.interval(watchers: 1000) == .milliseconds(50))
        #expect(WakePacing.interval(watchers: 100_000) == .milliseconds(50))
    }

    @Test func manyWatchersAreWokenAtOnceAfterQuietThenAtMostOncePerInterval() {
        var pacing = WakePacing()
        // The first append after a quiet spell wakes at once: no added latency.
        #expect(pacing.appended(watchers: 1000, now: Self.start) == .wakeNow)
        // Appends within the interval share one wake-up at its end, scheduled once.
        #expect(pacing.appended(watchers: 1000, now: Self.start + .milliseconds(5)) == .wakeAt(Self.start + .milliseconds(50)))
        #expect(pacing.appended(watchers: 1000, now: Self.start + .milliseconds(10)) == .nothing)
        pacing.scheduledWakeUp(now: Self.start + .milliseconds(50))
        #expect(pacing.appended(watchers: 1000, now: Self.start + .milliseconds(60)) == .wakeAt(Self.start + .milliseconds(100)))
        pacing.scheduledWakeUp(now: Self.start + .milliseconds(100))
        // Quiet for longer than the interval: at once again.
        #expect(pacing.appended(watchers: 1000, now: Self.start + .milliseconds(200)) == .wakeNow)
    }
}

@Suite struct PreparedEventTests {
    static func event(_ audience: EventStreamPosition, from: UInt64, end: UInt64) -> PreparedEvent {
        PreparedEvent(audience: audience, stream: 1, from: from, end: end, event: ByteBuffer(string: "event"))
    }

    @Test func readersShareAnEventOnlyWhereEveryStreamStandsTheSame() {
        var here = EventStreamPosition()
        here.set("stdout", 100)
        here.set("stderr", 7)
        var elsewhere = here
        elsewhere.set("stderr", 9)
        var cache = BatchCache<PreparedEvent, Int>(maxBytes: 1000, maxCount: 100)
        let shared = Self.event(here.blanking("stdout"), from: 100, end: 150)
        cache.keep(shared)
        // The stream's own offset is the key's, not the audience's: a reader further on is the same audience.
        var further = here
        further.set("stdout", 150)
        #expect(further.blanking("stdout") == here.blanking("stdout"))
        #expect(cache.plan(here.blanking("stdout"), stream: 1, from: 100, upTo: 200, maxBytes: 64) == .use(shared))
        // Another offset of stderr would make another `id:`: not shared.
        #expect(cache.plan(elsewhere.blanking("stdout"), stream: 1, from: 100, upTo: 200, maxBytes: 64) == .make(from: 100, upTo: 164))
    }
}
