import ArgumentParser
import Foundation
import Logging
import TailcastProtocol
import TailcastWatcher

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List jobs: what ran, what runs, how it ended.",
        discussion: "States: running (an agent is connected), exited N / killed by signal N, agent lost (no agent connected and no exit status: it was killed, crashed, or lost its network; `tailcast flush` on its machine delivers what its spool kept)."
    )

    @OptionGroup var server: ServerOption

    @Flag(help: "Print JSON for scripts (the same as the server's /v1/jobs answer).")
    var json = false

    func run() async throws {
        let jobs: [JobInfo]
        var logger = Logger(label: "tailcast.ls")
        logger.logLevel = .warning
        do {
            jobs = try await JobLister.fetch(endpoint: self.server.endpoint, logger: logger)
        } catch WatchError.refused(let code, let message) {
            notice(message)
            throw ExitCode(ExitCodes.forRefusal(code))
        } catch {
            notice("\(error)")
            throw ExitCode(ExitCodes.unreachable)
        }
        if self.json {
            struct List: Encodable { var jobs: [JobInfo] }
            FileHandle.standardOutput.write(try ProtocolJSON.encode(List(jobs: jobs), pretty: true) + Data("\n".utf8))
            return
        }
        let colour = Terminal.wantsColour(1)
        let now = UnixTime.nowMs()
        var rows = [["JOB", "HOST", "COMMAND", "STATE", "STARTED", "DURATION", "BYTES", "PROGRESS"]]
        var states = [""]
        for job in jobs {
            let state: String
            switch job.state {
            case .running: state = "running"
            case .lost: state = "agent lost"
            case .exited: state = job.exit?.description ?? "exited"
            }
            let end = job.endedAtMs ?? (job.state == .running ? now : job.lastSeenMs)
            rows.append([
                job.id, job.meta.host, String(job.meta.command.joined(separator: " ").prefix(40)), state,
                Self.formatStart(job.meta.startedAtMs), Self.formatDuration(ms: end.subtractingReportingOverflow(job.meta.startedAtMs).overflow ? 0 : end - job.meta.startedAtMs),
                ProgressFormat.bytes(Double(job.bytes)), Self.formatProgress(job),
            ])
            states.append(job.state == .running ? "\u{1B}[32m" : job.state == .lost ? "\u{1B}[33m" : (job.exit?.shellStatus == 0 ? "" : "\u{1B}[31m"))
        }
        // Hosts, commands and progress units come from the agents: escaped before they reach the terminal.
        rows = rows.map { $0.map(\.escapingControlCharacters) }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max()! }
        for (index, row) in rows.enumerated() {
            var line = ""
            for (column, cell) in row.enumerated() {
                let padded = column == row.count - 1 ? cell : cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
                if column == 3 && colour && !states[index].isEmpty {
                    line += states[index] + padded + "\u{1B}[0m"
                } else {
                    line += padded
                }
            }
            print(line)
        }
    }

    /// The job's first bar (explicit ones come first): "45% ETA 3m12s" while it runs, or without a total its
    /// count and rate, "450 it 12.3 it/s".
    static func formatProgress(_ job: JobInfo) -> String {
        guard let bar = job.progress.first else { return "" }
        let running = job.state == .running
        if let percent = bar.percent {
            let eta = running ? bar.etaSeconds.map { " ETA " + ProgressFormat.duration($0) } ?? "" : ""
            return String(format: "%.0f%%", percent.rounded(.down)) + eta
        }
        let rate = running ? ProgressFormat.rate(bar).map { " " + $0 } ?? "" : ""
        return ProgressFormat.amount(bar.current, unit: bar.unit) + rate
    }

    static func formatStart(_ ms: UInt64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func formatDuration(ms: UInt64) -> String {
        let seconds = ms / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
        return "\(seconds / 3600)h\(String(format: "%02d", seconds / 60 % 60))m"
    }
}
