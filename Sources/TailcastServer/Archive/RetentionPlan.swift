/// Which jobs retention removes, decided from what is known of them (no I/O): finished jobs only
/// (no agent connected: an exit stored, the agent lost, or its sidecar stopped), oldest first. A job goes when it finished
/// longer than `retainMs` ago, or while the archive holds more than `maxBytes`; a running job never
/// goes, even when the running jobs alone hold more than `maxBytes`.
struct RetentionPlan: Equatable {
    struct Job: Equatable {
        var id: String
        /// Bytes its stream files take on disk.
        var bytes: UInt64
        /// When it finished (or, for a running job, when its agent was last seen).
        var finishedAtMs: UInt64
        /// No agent connected: it may be removed.
        var finished: Bool
    }

    enum Reason: String, Equatable {
        /// Finished longer ago than `--retain`.
        case age
        /// The archive held more than `--max-archive-bytes`.
        case size
    }

    struct Removal: Equatable {
        var job: Job
        var reason: Reason
    }

    /// In the order to remove them.
    private(set) var removals: [Removal] = []
    /// What the archive holds once they are gone.
    private(set) var bytesAfter: UInt64

    init(jobs: [Job], nowMs: UInt64, retainMs: UInt64?, maxBytes: UInt64?) {
        self.bytesAfter = jobs.reduce(0) { $0 + $1.bytes }
        let oldestFirst = jobs.filter(\.finished).sorted { ($0.finishedAtMs, $0.id) < ($1.finishedAtMs, $1.id) }
        for job in oldestFirst {
            let reason: Reason
            if let retainMs, nowMs >= job.finishedAtMs, nowMs - job.finishedAtMs > retainMs {
                reason = .age
            } else if let maxBytes, self.bytesAfter > maxBytes {
                reason = .size
            } else {
                // The rest finished later, so none is older than `retainMs` either.
                break
            }
            self.removals.append(Removal(job: job, reason: reason))
            self.bytesAfter -= job.bytes
        }
    }
}
