import NIOCore
import Testing

@testable import TailcastServer

@Suite struct LiveWatchersTests {
    typealias Live = LiveWatchers<String, PreparedBatch>
    typealias Place = Live.Place

    static func batch(_ stream: UInt32, _ from: UInt64, _ end: UInt64) -> PreparedBatch {
        BatchCacheTests.batch(stream, from, end)
    }

    /// Which output got which bytes, in order.
    static func written(_ delivery: Live.Delivery) -> [String] {
        delivery.writes.map { "\($0.output):\($0.batch.stream):\($0.batch.from)-\($0.batch.end)" }
    }

    @Test func watchersAtOnePlaceShareOneBatchAndMoveOn() {
        var live = Live()
        live.enter(1, output: "a", offsets: [1: 100])
        live.enter(2, output: "b", offsets: [1: 100])
        #expect(live.places(sizes: [1: 100]).isEmpty)
        #expect(live.places(sizes: [1: 150]) == [Place(stream: 1, from: 100)])
        let delivery = live.deliver(sizes: [1: 150], batches: [Place(stream: 1, from: 100): Self.batch(1, 100, 150)]) { _, _ in true }
        #expect(Set(Self.written(delivery)) == ["a:1:100-150", "b:1:100-150"])
        #expect(delivery.wake.isEmpty)
        // Both stand at 150 now: the next batch is one place again.
        #expect(live.places(sizes: [1: 170]) == [Place(stream: 1, from: 150)])
        #expect(live.isServedByJob(1) && live.isServedByJob(2))
        #expect(live.leave(1) == [1: 150])
        #expect(!live.isServedByJob(1))
        #expect(live.leave(1) == nil)
    }

    @Test func aWatcherThatJoinedBetweenEdgesGetsABatchOfItsOwnPlace() {
        var live = Live()
        live.enter(1, output: "early", offsets: [1: 100])
        live.enter(2, output: "late", offsets: [1: 120])
        #expect(live.places(sizes: [1: 150]) == [Place(stream: 1, from: 100), Place(stream: 1, from: 120)])
        let batches = [Place(stream: 1, from: 100): Self.batch(1, 100, 150), Place(stream: 1, from: 120): Self.batch(1, 120, 150)]
        let delivery = live.deliver(sizes: [1: 150], batches: batches) { _, _ in true }
        #expect(Set(Self.written(delivery)) == ["early:1:100-150", "late:1:120-150"])
        #expect(live.places(sizes: [1: 200]) == [Place(stream: 1, from: 150)])
    }

    @Test func aWatcherWhoseSocketIsFullIsWokenAndNotWritten() {
        var live = Live()
        live.enter(1, output: "fast", offsets: [1: 0])
        live.enter(2, output: "stopped", offsets: [1: 0])
        let delivery = live.deliver(sizes: [1: 10], batches: [Place(stream: 1, from: 0): Self.batch(1, 0, 10)]) { output, _ in output != "stopped" }
        #expect(Self.written(delivery) == ["fast:1:0-10"])
        #expect(delivery.wake == [2])
        // Woken, it is written no more; its session leaves with the offsets it had.
        #expect(!live.isServedByJob(2))
        #expect(live.places(sizes: [1: 20]) == [Place(stream: 1, from: 10)])
        #expect(Self.written(live.deliver(sizes: [1: 20], batches: [Place(stream: 1, from: 10): Self.batch(1, 10, 20)]) { _, _ in true }) == ["fast:1:10-20"])
        #expect(live.leave(2) == [1: 0])
    }

    @Test func aPlaceWithoutABatchWakesItsWatchers() {
        var live = Live()
        live.enter(1, output: "a", offsets: [1: 0])
        // Not in memory, or being made by a session: the session goes on from the archive.
        let delivery = live.deliver(sizes: [1: 10], batches: [:]) { _, _ in true }
        #expect(delivery.writes.isEmpty)
        #expect(delivery.wake == [1])
        #expect(live.leave(1) == [1: 0])
    }

    @Test func twoStreamsThatGrewTogetherAreTheSessionsToOrder() {
        var live = Live()
        live.enter(1, output: "both", offsets: [1: 0, 2: 0])
        live.enter(2, output: "stdout only", offsets: [1: 0])
        let batches = [Place(stream: 1, from: 0): Self.batch(1, 0, 10), Place(stream: 2, from: 0): Self.batch(2, 0, 5)]
        let delivery = live.deliver(sizes: [1: 10, 2: 5], batches: batches) { _, _ in true }
        #expect(Self.written(delivery) == ["stdout only:1:0-10"])
        #expect(delivery.wake == [1])
        // One stream growing at a time is written, whichever it is.
        live.enter(3, output: "again", offsets: [1: 10, 2: 5])
        let next = live.deliver(sizes: [1: 10, 2: 9], batches: [Place(stream: 2, from: 5): Self.batch(2, 5, 9)]) { _, _ in true }
        #expect(Self.written(next) == ["again:2:5-9"])
    }

    @Test func aBatchEndingShortOfTheSizeIsWrittenThenTheSessionTakesTheRest() {
        var live = Live()
        live.enter(1, output: "a", offsets: [1: 0])
        // A batch is at most Wire.maxBatchBytes: the rest is the session's.
        let delivery = live.deliver(sizes: [1: 100], batches: [Place(stream: 1, from: 0): Self.batch(1, 0, 60)]) { _, _ in true }
        #expect(Self.written(delivery) == ["a:1:0-60"])
        #expect(delivery.wake == [1])
        #expect(live.leave(1) == [1: 60])
    }

    @Test func anythingButBytesEjectsEveryone() {
        var live = Live()
        live.enter(1, output: "a", offsets: [1: 0])
        live.enter(2, output: "b", offsets: [1: 0])
        live.ejectAll()
        #expect(!live.isServedByJob(1) && !live.isServedByJob(2))
        #expect(live.places(sizes: [1: 10]).isEmpty)
        let delivery = live.deliver(sizes: [1: 10], batches: [Place(stream: 1, from: 0): Self.batch(1, 0, 10)]) { _, _ in true }
        #expect(delivery.writes.isEmpty && delivery.wake.isEmpty)
        // A session that comes back enters anew with its cursor's offsets.
        #expect(live.leave(1) == [1: 0])
        live.enter(1, output: "a", offsets: [1: 0])
        #expect(live.isServedByJob(1))
    }

    @Test func aStreamNotAnnouncedToTheWatcherIsNotItsBusiness() {
        var live = Live()
        // Watching stderr only (`streams`): stdout growing writes nothing and wakes no one.
        live.enter(1, output: "a", offsets: [2: 0])
        #expect(live.places(sizes: [1: 10, 2: 0]).isEmpty)
        let delivery = live.deliver(sizes: [1: 10, 2: 0], batches: [:]) { _, _ in true }
        #expect(delivery.writes.isEmpty && delivery.wake.isEmpty)
    }
}

@Suite struct WatcherCursorLiveTests {
    @Test func aFollowerHandsItsOffsetsOverAndTakesBackWhatTheJobSent() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        cursor.announced("stdout", id: 1, offset: 0)
        cursor.announced("stderr", id: 2, offset: 7)
        cursor.sent("stdout", upTo: 40)
        #expect(cursor.liveOffsets == [1: 40, 2: 7])
        cursor.jobSent(stream: 1, upTo: 90)
        cursor.jobSent(stream: 3, upTo: 5)
        #expect(cursor.offset(of: "stdout") == 90)
        #expect(cursor.liveOffsets == [1: 90, 2: 7])
        // Never backwards.
        cursor.jobSent(stream: 1, upTo: 10)
        #expect(cursor.offset(of: "stdout") == 90)
    }

    @Test func aWatcherThatDoesNotFollowNeverWaitsAtTheLiveEnd() {
        var cursor = WatcherCursor(follow: false, streams: nil)
        cursor.announced("stdout", id: 1, offset: 0)
        #expect(cursor.liveOffsets == nil)
    }
}
