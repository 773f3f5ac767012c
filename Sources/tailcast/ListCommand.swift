import ArgumentParser
import Foundation
import Logging
import TailcastProtocol
import TailcastWatcher

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List jobs: what ran, what runs, how it ended.",
        discussion: """
            States: running (an agent is connected), exited N / killed by signal N, stopped (its tail sidecar was stopped cleanly; it continues when started again), agent lost (no agent connected and no exit status: it was killed, crashed, or lost its network; `tailcast flush` on its machine delivers what its spool kept).

            On a terminal the table fits its width (or COLUMNS): long commands are shortened with an ellipsis, between arguments where possible; --json shows them whole.

            Examples: tailcast ls 'train-*' · tailcast ls --state running · tailcast ls --since 1d --limit 20 · tailcast ls -o json
            """
    )

    @Argument(help: ArgumentHelp("Only jobs whose id matches this glob (train-*, web-[12]).", valueName: "pattern"))
    var pattern: String?

    @OptionGroup var server: ServerOption

    @OptionGroup var color: ColorOption

    @Option(help: ArgumentHelp("Only jobs in this state: running, exited, lost or stopped.", valueName: "state"))
    var state: String?

    @Option(help: ArgumentHelp("Only jobs started in the last DURATION (30s, 10m, 2h, 1d) or since an RFC 3339 time.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only the N most recently started of the jobs listed.", valueName: "n"))
    var limit: Int?

    @Flag(help: "Print JSON for scripts (the same as the server's /v1/jobs answer).")
    var json = false

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Output format: table or json (-o json is --json).", valueName: "format"))
    var format: Format?

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    func validate() throws {
        if case .failure(let problem) = self.filter { throw ValidationError(problem.description) }
        if let limit = self.limit, limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
        if self.json && self.format == .table { throw ValidationError("use --json or -o table, not both") }
    }

    var filter: Result<JobFilter, JobFilter.Problem> {
        JobFilter.parse(pattern: self.pattern, state: self.state, since: self.since)
    }

    func run() async throws {
        var jobs: [JobInfo]
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
        let filter = try self.filter.get()
        jobs = jobs.filter(filter.matches)
        // Oldest first, as the server lists them: the most recent are the last.
        if let limit = self.limit { jobs = Array(jobs.suffix(limit)) }
        if self.json || self.format == .json {
            struct List: Encodable { var jobs: [JobInfo] }
            FileHandle.standardOutput.write(try ProtocolJSON.encode(List(jobs: jobs), pretty: true) + Data("\n".utf8))
            return
        }
        let colour = self.color.wanted(on: 1)
        let now = UnixTime.nowMs()
        // Hosts, commands and progress units come from the agents: escaped before they reach the terminal.
        var rows = [["JOB", "HOST", "COMMAND", "STATE", "STARTED", "DURATION", "BYTES", "PROGRESS"]]
        var commands = [[String]]()
        var progressWithoutRate = [""]
        var states = [""]
        for job in jobs {
            let state: String
            switch job.state {
            case .running: state = "running"
            case .lost: state = "agent lost"
            case .stopped: state = "stopped"
            case .exited: state = job.exit?.description ?? "exited"
            }
            let end = job.endedAtMs ?? (job.state == .running ? now : job.lastSeenMs)
            commands.append(job.meta.command.map { ShellWords.quote($0).escapingControlCharacters })
            rows.append([
                job.id, job.meta.host.escapingControlCharacters, commands.last!.joined(separator: " "), state,
                Self.formatStart(job.meta.startedAtMs), Self.formatDuration(ms: end.subtractingReportingOverflow(job.meta.startedAtMs).overflow ? 0 : end - job.meta.startedAtMs),
                ProgressFormat.bytes(Double(job.bytes)), Self.formatProgress(job, withRate: true).escapingControlCharacters,
            ])
            progressWithoutRate.append(Self.formatProgress(job, withRate: false).escapingControlCharacters)
            switch job.state {
            case .running: states.append("\u{1B}[32m")
            case .lost: states.append("\u{1B}[33m")
            case .stopped: states.append("\u{1B}[36m")
            case .exited: states.append(job.exit?.shellStatus == 0 ? "" : "\u{1B}[31m")
            }
        }
        var widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max()! }
        let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? TerminalWidth.of(1)
        if let columns {
            // The command gives way first, down to a useful minimum, then the rates beside percentages; a line may
            // still wrap on a very narrow terminal.
            var others = widths.enumerated().reduce(0) { $0 + ($1.offset == 2 ? 0 : $1.element + 2) }
            if others + Self.minCommandWidth + 2 > columns {
                for index in rows.indices.dropFirst() { rows[index][7] = progressWithoutRate[index] }
                let narrower = rows.map { $0[7].count }.max()!
                others -= widths[7] - narrower
                widths[7] = narrower
            }
            widths[2] = min(widths[2], max(Self.minCommandWidth, columns - others - 2))
            for index in rows.indices.dropFirst() {
                rows[index][2] = ShellWords.shorten(commands[index - 1], width: widths[2])
            }
        }
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
            print(line.trimmingCharacters(in: .whitespaces))
        }
    }

    static let minCommandWidth = 12

    /// The job's first bar (explicit ones come first): "45% 12.3 it/s ETA 3m12s" while it runs (without the rate
    /// where the terminal is too narrow for it), or without a total its count and rate, "450 it 12.3 it/s".
    static func formatProgress(_ job: JobInfo, withRate: Bool) -> String {
        guard let bar = job.progress.first else { return "" }
        let running = job.state == .running
        let rate = running ? ProgressFormat.rate(bar).map { " " + $0 } ?? "" : ""
        if let percent = bar.percent {
            let eta = running ? bar.etaSeconds.map { " ETA " + ProgressFormat.duration($0) } ?? "" : ""
            return String(format: "%.0f%%", percent.rounded(.down)) + (withRate ? rate : "") + eta
        }
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
