import ArgumentParser
import Foundation
import Logging
import TailcastProtocol
import TailcastWatcher

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a job's output from the start, then follow it live.",
        discussion: """
            Replay and live output join with no gap and no duplicate. If the connection drops, watch reconnects and resumes from the last byte it printed. When the job ends, watch exits with the job's status. In --no-pty jobs, the job's stderr goes to watch's stderr. For `tailcast tail` jobs, a line `==> PATH <==` says which file the lines below come from whenever that changes, as with tail -F (not with --raw or a single --stream).

            Progress: on a terminal, one live bar per active progress stays pinned below the log. Into a pipe, a line redrawn with carriage returns is printed once in its last state, and progress is printed to stderr at most every 5 s. --raw prints the archived bytes exactly.

            Examples: tailcast watch train-42 · tailcast watch train-42 --tail 100 · tailcast watch train-42 --since 10m --no-follow
            """
    )

    @Argument(help: "The job to watch (see tailcast ls).")
    var job: String

    @OptionGroup var server: ServerOption

    @Option(help: ArgumentHelp("Start this many lines before the end of each stream.", valueName: "lines"))
    var tail: UInt64?

    @Option(help: ArgumentHelp("Start with output read in the last DURATION (30s, 10m, 2h, 1d).", valueName: "duration"))
    var since: String?

    @Flag(help: "Print what is archived now and exit, instead of following.")
    var noFollow = false

    @Flag(help: "Prefix each line with the time the agent read it (UTC; lines read within 20 ms share a time).")
    var timestamps = false

    @Flag(help: "Print the bytes exactly as archived: no pinned bars, no collapsing of redrawn lines.")
    var raw = false

    @Option(name: .customLong("stream"), help: ArgumentHelp("Only this stream (repeatable): stdout, stderr, or a tailed file's path.", valueName: "name"))
    var streams: [String] = []

    func validate() throws {
        if let problem = JobID.problem(with: self.job) { throw ValidationError(problem) }
        if let since = self.since, Self.parseDuration(since) == nil {
            throw ValidationError("--since takes a duration like 30s, 10m, 2h or 1d (got \"\(since)\")")
        }
        if self.tail != nil && self.since != nil { throw ValidationError("use --tail or --since, not both") }
    }

    func run() async throws {
        let sinceMs = self.since.flatMap(Self.parseDuration).map { UnixTime.nowMs() - min(UnixTime.nowMs(), $0) }
        var logger = Logger(label: "tailcast.watch")
        logger.logLevel = .warning
        let watcher = Watcher(
            options: .init(
                endpoint: self.server.endpoint, job: self.job, follow: !self.noFollow, tailLines: self.tail, sinceMs: sinceMs,
                streams: self.streams.isEmpty ? nil : self.streams, timestamps: self.timestamps,
                headers: !self.raw && self.streams.count != 1
            ),
            logger: logger,
            output: WatchOutputs.make(raw: self.raw),
            onNotice: { notice($0) }
        )
        let outcome: Watcher.Outcome
        do {
            outcome = try await watcher.run()
        } catch WatchError.refused(let code, let message) {
            notice(message)
            throw ExitCode(ExitCodes.forRefusal(code))
        } catch {
            notice("\(error)")
            throw ExitCode(ExitCodes.unreachable)
        }
        switch outcome {
        case .finished(let exit):
            // On a terminal, say how it ended; scripts read the exit status instead.
            if isatty(2) == 1 { notice("job \(self.job) \(exit.description)") }
            if exit.shellStatus != 0 { throw ExitCode(exit.shellStatus) }
        case .caughtUp:
            return
        case .refused(let code, let message):
            notice(message)
            throw ExitCode(ExitCodes.forRefusal(code))
        }
    }

    /// "90s", "10m", "2h", "1d" → milliseconds.
    static func parseDuration(_ text: String) -> UInt64? {
        guard let unit = text.last, let value = UInt64(text.dropLast()) else { return nil }
        let scale: UInt64
        switch unit {
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        default: return nil
        }
        return value * scale
    }
}
