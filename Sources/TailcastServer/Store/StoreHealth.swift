import Logging
import Metrics
import Synchronization

/// Whether the shared store answers, as this node last saw it: `/healthz`, `/metrics` and the log.
/// An outage is logged once when it starts (with why) and once when it ends, not at every retry.
final class StoreHealth: Sendable {
    let up = Gauge(label: "tailcast_store_up")
    let errors = Counter(label: "tailcast_store_errors_total")
    let commitSeconds = Metrics.Timer(label: "tailcast_store_commit_seconds", preferredDisplayUnit: .seconds)
    private let failing = Mutex<Bool>(false)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        self.up.record(1)
    }

    var isUp: Bool { !self.failing.withLock { $0 } }

    func succeeded() {
        let recovered = self.failing.withLock { failing in
            defer { failing = false }
            return failing
        }
        self.up.record(1)
        if recovered { self.logger.notice("the store answers again; acknowledging resumes") }
    }

    func failed(_ error: any Error, doing what: String) {
        self.errors.increment()
        self.up.record(0)
        let first = self.failing.withLock { failing in
            defer { failing = true }
            return !failing
        }
        if first {
            self.logger.error("the store cannot be reached (\(what): \(StoreError.describe(error))); not acknowledging until it answers, retrying with backoff")
        }
    }
}
