import Metrics

/// The server's metrics, exported at /metrics in Prometheus' text format.
struct ServerMetrics: Sendable {
    let agentsConnected = Meter(label: "tailcast_agents_connected")
    let watchersConnected = Meter(label: "tailcast_watchers_connected")
    let bytesArchived = Counter(label: "tailcast_archived_bytes_total")
    let bytesRelayed = Counter(label: "tailcast_relayed_bytes_total")
    let storageErrors = Counter(label: "tailcast_storage_errors_total")
    /// 1 while the archive cannot be written (disk full, I/O error): nothing is acknowledged then.
    let storageFailing = Gauge(label: "tailcast_storage_failing")
}
