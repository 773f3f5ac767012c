import Metrics

/// The server's metrics, exported at /metrics in Prometheus' text format (help texts: `MetricsExposition`).
struct ServerMetrics: Sendable {
    let agentsConnected = Meter(label: "tailcast_agents_connected")
    let watchersConnected = Meter(label: "tailcast_watchers_connected")
    let bytesArchived = Counter(label: "tailcast_archived_bytes_total")
    let bytesRelayed = Counter(label: "tailcast_relayed_bytes_total")
    let storageErrors = Counter(label: "tailcast_storage_errors_total")
    /// 1 while the archive cannot be written (disk full, I/O error): nothing is acknowledged then.
    let storageFailing = Gauge(label: "tailcast_storage_failing")
    /// Read off the hub when /metrics is scraped (`record(_:)`), so they are never out of step with it.
    let jobs = Gauge(label: "tailcast_jobs")
    let jobsRunning = Gauge(label: "tailcast_jobs_running")
    let archiveBytes = Gauge(label: "tailcast_archive_bytes")

    /// Why a job left the archive.
    enum Removal: String, CaseIterable {
        /// `serve --retain`.
        case age
        /// `serve --max-archive-bytes`.
        case size
        /// `tailcast rm` or `DELETE /v1/jobs/JOB`.
        case rm
    }

    private let removals = Dictionary(uniqueKeysWithValues: Removal.allCases.map {
        ($0, Counter(label: "tailcast_jobs_removed_total", dimensions: [("reason", $0.rawValue)]))
    })
    let bytesRemoved = Counter(label: "tailcast_removed_bytes_total")

    func removed(_ reason: Removal, bytes: UInt64) {
        self.removals[reason]!.increment()
        self.bytesRemoved.increment(by: Int(clamping: bytes))
    }

    /// Sets the gauges that describe the hub as it is now.
    func record(_ hub: Hub) {
        let totals = hub.totals
        self.jobs.record(totals.jobs)
        self.jobsRunning.record(totals.running)
        self.archiveBytes.record(Int64(clamping: totals.bytes))
    }
}
