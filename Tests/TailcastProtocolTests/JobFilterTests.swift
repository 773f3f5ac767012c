import Testing

@testable import TailcastProtocol

@Suite struct JobFilterTests {
    static func job(_ id: String, _ state: JobState, startedAtMs: UInt64) -> JobInfo {
        JobInfo(id: id, meta: JobMeta(kind: "run", command: ["x"], host: "h", user: "u", startedAtMs: startedAtMs), state: state, lastSeenMs: 0, streams: [])
    }

    @Test func matchesGlobStateAndStart() throws {
        let filter = try JobFilter.parse(pattern: "train-*", state: "stopped", since: "1970-01-01T00:00:01Z").get()
        #expect(filter.matches(Self.job("train-1", .stopped, startedAtMs: 1000)))
        #expect(!filter.matches(Self.job("train-1", .lost, startedAtMs: 1000)))
        #expect(!filter.matches(Self.job("build-1", .stopped, startedAtMs: 1000)))
        #expect(!filter.matches(Self.job("train-1", .stopped, startedAtMs: 999)))
        #expect(JobFilter().matches(Self.job("anything", .running, startedAtMs: 0)))
    }

    @Test func namesTheWrongValue() {
        #expect(throws: JobFilter.Problem.self) { try JobFilter.parse(pattern: nil, state: "sleeping", since: nil).get() }
        #expect(throws: JobFilter.Problem.self) { try JobFilter.parse(pattern: nil, state: nil, since: "soon").get() }
        #expect(throws: JobFilter.Problem.self) { try JobFilter.parse(pattern: "", state: nil, since: nil).get() }
    }

    @Test func timesAreDurationsOrRFC3339() {
        #expect(TimeArgument.parse("10m", nowMs: 1_000_000) == 400_000)
        #expect(TimeArgument.parse("2d", nowMs: 1000) == 0)
        #expect(TimeArgument.parse("1970-01-01T00:00:01Z") == 1000)
        #expect(TimeArgument.parse("1970-01-01T00:00:01.250Z") == 1250)
        #expect(TimeArgument.parse("1970-01-01 01:00:01+01:00") == 1000)
        #expect(TimeArgument.parse("1970-01-01t00:00:01z") == 1000)
        #expect(TimeArgument.parse("yesterday") == nil)
        #expect(TimeArgument.parse("99999999999999999d") == nil)
        #expect(TimeArgument.parse("2026-12-03") == nil)
    }
}
