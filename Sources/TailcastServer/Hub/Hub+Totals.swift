extension Hub {
    /// Jobs, running jobs, and the bytes their streams hold: for /metrics and retention.
    var totals: (jobs: Int, running: Int, bytes: UInt64) {
        let candidates = self.retentionCandidates
        return (candidates.count, candidates.count { !$0.finished }, candidates.reduce(0) { $0 + $1.bytes })
    }

    var retentionCandidates: [RetentionPlan.Job] {
        self.jobs.withLock { Array($0.values) }.map(\.retentionCandidate)
    }
}
