import Testing

@testable import TailcastServer

@Suite struct RetentionPlanTests {
    typealias Job = RetentionPlan.Job
    static let day: UInt64 = 86_400_000
    static let now: UInt64 = 100 * day

    func job(_ id: String, daysAgo: UInt64, bytes: UInt64 = 100, finished: Bool = true) -> Job {
        Job(id: id, bytes: bytes, finishedAtMs: Self.now - daysAgo * Self.day, finished: finished)
    }

    func removed(_ plan: RetentionPlan) -> [String] { plan.removals.map { "\($0.job.id):\($0.reason.rawValue)" } }

    @Test func removesWhatFinishedLongerAgoThanRetainOldestFirst() {
        let jobs = [job("b", daysAgo: 31), job("new", daysAgo: 29), job("a", daysAgo: 40)]
        let plan = RetentionPlan(jobs: jobs, nowMs: Self.now, retainMs: 30 * Self.day, maxBytes: nil)
        #expect(removed(plan) == ["a:age", "b:age"])
        #expect(plan.bytesAfter == 100)
    }

    @Test func removesTheOldestUntilTheArchiveFitsItsCap() {
        let jobs = [job("c", daysAgo: 1, bytes: 300), job("a", daysAgo: 3, bytes: 300), job("b", daysAgo: 2, bytes: 300)]
        let plan = RetentionPlan(jobs: jobs, nowMs: Self.now, retainMs: nil, maxBytes: 600)
        #expect(removed(plan) == ["a:size"])
        #expect(plan.bytesAfter == 600)
    }

    @Test func ageComesFirstAndCountsTowardTheCap() {
        let jobs = [job("old", daysAgo: 40, bytes: 500), job("mid", daysAgo: 5, bytes: 500), job("new", daysAgo: 0, bytes: 500)]
        let plan = RetentionPlan(jobs: jobs, nowMs: Self.now, retainMs: 30 * Self.day, maxBytes: 600)
        #expect(removed(plan) == ["old:age", "mid:size"])
    }

    @Test func neverRemovesARunningJobEvenWhenRunningJobsAloneExceedTheCap() {
        let jobs = [job("running", daysAgo: 90, bytes: 5000, finished: false), job("done", daysAgo: 0, bytes: 10)]
        let plan = RetentionPlan(jobs: jobs, nowMs: Self.now, retainMs: 30 * Self.day, maxBytes: 1000)
        #expect(removed(plan) == ["done:size"])
        #expect(plan.bytesAfter == 5000)
    }

    @Test func keepsEverythingWithinBothLimitsAndTiesGoByID() {
        #expect(RetentionPlan(jobs: [job("a", daysAgo: 1)], nowMs: Self.now, retainMs: 30 * Self.day, maxBytes: 1000).removals.isEmpty)
        let tied = [job("y", daysAgo: 3), job("x", daysAgo: 3)]
        #expect(removed(RetentionPlan(jobs: tied, nowMs: Self.now, retainMs: nil, maxBytes: 100)) == ["x:size"])
        // A finish time ahead of the server's clock is not old.
        let ahead = Job(id: "z", bytes: 1, finishedAtMs: Self.now + Self.day, finished: true)
        #expect(RetentionPlan(jobs: [ahead], nowMs: Self.now, retainMs: 1, maxBytes: nil).removals.isEmpty)
    }
}
