import Testing

@testable import TailcastAgent

@Suite struct EvictionPlanTests {
    typealias Header = EvictionPlan.RecordHeader

    /// Records of 1000 bytes each (plus a 10-byte header), alternating streams 1 and 2.
    func records(_ count: Int, from position: UInt64 = 500) -> [Header] {
        (0..<count).map { (index: Int) -> Header in
            let at: UInt64 = position + UInt64(index) * 1010
            let stream: UInt32 = index % 2 == 0 ? 1 : 2
            let offset: UInt64 = UInt64(index / 2) * 1000
            return Header(position: at, size: 1010, stream: stream, offset: offset, length: 1000, timeMs: UInt64(index))
        }
    }

    @Test func givesUpTheOldestRecordsUntilEnoughIsFree() throws {
        let plan = try #require(EvictionPlan.make(records: records(10), needed: 2500, fileEnd: 20_000))
        // Each stream gets one marker where its first lost byte was; the freed space counts them.
        #expect(plan.range.lowerBound == 500)
        #expect(plan.freed >= 2500)
        #expect(plan.markers.map(\.stream) == [1, 2])
        #expect(plan.markers.map(\.offset) == [0, 0])
        #expect(plan.markers.map(\.timeMs) == [0, 1])
        let lostRecords = Int(UInt64(plan.range.count) / 1010)
        #expect(UInt64(lostRecords) * 1010 == UInt64(plan.range.count))
        // Later records of each stream move back by what was lost minus the marker's length.
        for adjustment in plan.adjustments {
            let lost = UInt64((lostRecords + (adjustment.stream == 1 ? 1 : 0)) / 2) * 1000
            let marker = plan.markers.first { $0.stream == adjustment.stream }!
            #expect(adjustment.fromOffset == lost)
            #expect(adjustment.shift == Int64(lost) - Int64(marker.text.count))
            #expect(adjustment.fromPosition == plan.range.upperBound && adjustment.toPosition == 20_000)
            #expect(adjustment.apply(stream: adjustment.stream, offset: lost, at: plan.range.upperBound) == UInt64(marker.text.count))
            // Records written after the eviction, and other streams, are untouched.
            #expect(adjustment.apply(stream: adjustment.stream, offset: lost + 5, at: 20_000) == lost + 5)
            #expect(adjustment.apply(stream: 9, offset: lost, at: plan.range.upperBound) == lost)
        }
    }

    @Test func notEnoughRecordsGivesNoPlan() {
        #expect(EvictionPlan.make(records: records(2), needed: 5000, fileEnd: 3000) == nil)
        #expect(EvictionPlan.make(records: [], needed: 1, fileEnd: 0) == nil)
    }

    @Test func markersFitInTheSpaceTheyReplace() throws {
        // Tiny records: a marker is longer than one record, so more are given up until it fits.
        let tiny = (0..<200).map { (index: Int) -> Header in
            Header(position: UInt64(index) * 12, size: 12, stream: 1, offset: UInt64(index) * 8, length: 8, timeMs: 0)
        }
        let plan = try #require(EvictionPlan.make(records: tiny, needed: 1, fileEnd: 2400))
        #expect(plan.markerBytes <= UInt64(plan.range.count))
        #expect(plan.freed >= 1)
        let moved = plan.adjustments[0].apply(stream: 1, offset: plan.adjustments[0].fromOffset, at: plan.range.upperBound)
        #expect(moved == UInt64(plan.markers[0].text.count))
    }

    @Test func varintSizes() {
        #expect(varintSize(0) == 1)
        #expect(varintSize(127) == 1)
        #expect(varintSize(128) == 2)
        #expect(varintSize(UInt64.max) == 10)
    }
}
