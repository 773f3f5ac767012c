import NIOCore
import Testing

@testable import TailcastServer

@Suite struct LiveTailTests {
    static func bytes(_ count: Int, from first: Int = 0) -> ByteBuffer {
        ByteBuffer(bytes: (first..<first + count).map { UInt8(truncatingIfNeeded: $0) })
    }

    @Test func readsWhatWasAppendedUpToItsEnd() {
        var tail = LiveTail(capacity: 100, end: 1000)
        tail.append(Self.bytes(10, from: 0), at: 1000)
        tail.append(Self.bytes(10, from: 10), at: 1010)
        #expect(tail.start == 1000 && tail.end == 1020)
        #expect(tail.read(from: 1000, maxBytes: 100) == Self.bytes(20))
        #expect(tail.read(from: 1015, maxBytes: 3) == Self.bytes(3, from: 15))
        // At the end: held, and nothing to send.
        #expect(tail.read(from: 1020, maxBytes: 10) == ByteBuffer())
    }

    @Test func missesBeforeItsStartAndPastItsEnd() {
        var tail = LiveTail(capacity: 100, end: 50)
        tail.append(Self.bytes(10), at: 50)
        #expect(tail.read(from: 49, maxBytes: 10) == nil)
        #expect(tail.read(from: 0, maxBytes: 100) == nil)
        #expect(tail.read(from: 61, maxBytes: 10) == nil)
    }

    @Test func dropsTheOlderHalfPastItsCapacity() {
        var tail = LiveTail(capacity: 100, end: 0)
        tail.append(Self.bytes(60), at: 0)
        tail.append(Self.bytes(60, from: 60), at: 60)
        // 120 held would be over 100: the newest 50 stay.
        #expect(tail.heldBytes == 50 && tail.start == 70 && tail.end == 120)
        #expect(tail.read(from: 69, maxBytes: 10) == nil)
        #expect(tail.read(from: 70, maxBytes: 100) == Self.bytes(50, from: 70))
        // One append larger than the capacity keeps its own last half-capacity.
        tail.append(Self.bytes(300, from: 120), at: 120)
        #expect(tail.start == 370 && tail.read(from: 370, maxBytes: 100) == Self.bytes(50, from: 370))
    }

    @Test func anAppendThatDoesNotContinueItStartsItAnew() {
        var tail = LiveTail(capacity: 100, end: 0)
        tail.append(Self.bytes(10), at: 0)
        tail.empty(at: 10)
        #expect(tail.heldBytes == 0 && tail.read(from: 0, maxBytes: 10) == nil)
        // Emptied at 10, the stream grew unkept to 40: the next kept bytes start there.
        tail.append(Self.bytes(5, from: 40), at: 40)
        #expect(tail.start == 40 && tail.read(from: 10, maxBytes: 10) == nil)
        #expect(tail.read(from: 40, maxBytes: 10) == Self.bytes(5, from: 40))
    }

    @Test func aReadIsACopyThatLaterAppendsDoNotChange() {
        var tail = LiveTail(capacity: 20, end: 0)
        tail.append(Self.bytes(15), at: 0)
        let read = tail.read(from: 5, maxBytes: 10)
        tail.append(Self.bytes(15, from: 15), at: 15)
        #expect(read == Self.bytes(10, from: 5))
    }
}
