import Logging
import Metrics
import Synchronization

/// Whether the shared store answers, as this node last saw it: `/healthz`, `/metrics` and the log.
/// An outage is logged when it starts (with why), again each time its cause changes to one not said yet
/// (the database first drops the connections, then refuses writes), and once when it ends; not at every retry.
final class StoreHealth: Sendable {
    let up = Gauge(label: "tailcast_store_up")
    let errors = Counter(label: "tailcast_store_errors_total")
    let commitSeconds = Metrics.Timer(label: "tailcast_store_commit_seconds", preferredDisplayUnit: .seconds)
    /// While the store fails: each cause said so far in this outage.
    private let failing = Mutex<Set<String>?>(nil)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        self.up.record(1)
    }

    var isUp: Bool { self.failing.withLock { $0 == nil } }

    func succeeded() {
        let recovered = self.failing.withLock { failing in
            defer { failing = nil }
            return failing != nil
        }
        self.up.record(1)
        if recovered { self.logger.notice("the store answers again; acknowledging resumes") }
    }

    func failed(_ error: any Error, doing what: String) {
        self.errors.increment()
        self.up.record(0)
        let cause = StoreError.describe(error)
        let (first, new) = self.failing.withLock { failing in
            var causes = failing ?? []
            defer { failing = causes }
            return (failing == nil, causes.insert(cause).inserted)
        }
        if first {
            self.logger.error("the store cannot be reached (\(what): \(cause)); not acknowledging until it answers, retrying with backoff")
        } else if new {
            self.logger.error("the store still fails, now: \(what): \(cause)")
        }
    }
}
