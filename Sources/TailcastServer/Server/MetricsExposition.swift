/// What /metrics answers: the registry's exposition with a `# HELP` line before each metric's `# TYPE`
/// line. swift-metrics' API (which the code records through) carries no help text, and swift-prometheus
/// refuses one name registered with two texts, so the texts are added here, by name.
enum MetricsExposition {
    static let help: [String: String] = [
        "tailcast_agents_connected": "Agents connected now (tailcast run, tailcast tail).",
        "tailcast_watchers_connected": "Watchers connected now (tailcast watch and other WebSocket watchers).",
        "tailcast_archived_bytes_total": "Bytes of job output written to the archive.",
        "tailcast_relayed_bytes_total": "Bytes of job output sent to watchers.",
        "tailcast_storage_errors_total": "Archive writes or syncs that failed (disk full, I/O error).",
        "tailcast_storage_failing": "1 while the archive cannot be written; nothing is acknowledged to agents then.",
        "tailcast_jobs": "Jobs the archive holds.",
        "tailcast_jobs_running": "Jobs with an agent connected.",
        "tailcast_archive_bytes": "Bytes the archive's stream files take on disk, ended ones compressed (what --max-archive-bytes caps).",
        "tailcast_jobs_removed_total": "Jobs removed from the archive, by reason: age (--retain), size (--max-archive-bytes), rm.",
        "tailcast_removed_bytes_total": "Bytes on disk freed by removing jobs.",
        "tailcast_connections_open": "TCP connections open now.",
        "tailcast_store_up": "1 while the shared store (serve --store) answers; 0 while it does not, and nothing is acknowledged to agents.",
        "tailcast_store_commit_seconds": "Time to commit one batch of chunks to the shared store, the lease check included.",
        "tailcast_store_errors_total": "Requests to the shared store that failed (unreachable, timed out, refused).",
        "tailcast_connections_closed_total": "Connections the server closed before or instead of serving them, by reason.",
    ]

    /// `exposition` with help lines added; a metric without a text here gets none.
    static func withHelp(_ exposition: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + 2048)
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, let text = self.help[String(name)] {
                out += "# HELP \(name) \(text)\n"
            }
            out += line
            out += "\n"
        }
        // Splitting kept the text's final newline as an empty last line: do not double it.
        return exposition.hasSuffix("\n") ? String(out.dropLast()) : out
    }
}
