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

            Progress: on a terminal, one live bar per active progress stays pinned below the log. Into a pipe, a line redrawn with carriage returns is printed once in its last state, the \\r\\n line endings of a job run under a pseudo-terminal become \\n, and progress is printed to stderr at most every 5 s. --raw prints the archived bytes exactly.

            In a pipeline, watch ends with status 0 as soon as the reader goes away, as tail -f does: `tailcast watch JOB | head -1` returns after the first line.

            A job whose sidecar (tailcast tail) was stopped cleanly shows as stopped: watch waits for it to come back, or with --exit-on-stop prints what is archived and exits 0.

            Examples: tailcast watch train-42 · tailcast watch train-42 -n 100 · tailcast watch train-42 --since 10m --no-follow · tailcast watch train-43 --wait=5m · tailcast watch web-1 --since 2026-12-03T08:00:00Z --until 2026-12-03T09:00:00Z
            """
    )

    @Argument(help: "The job to watch (see tailcast ls).")
    var job: String

    @OptionGroup var server: ServerOption

    @OptionGroup var color: ColorOption

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Start this many lines before the end of each stream.", valueName: "lines"))
    var tail: UInt64?

    @Option(help: ArgumentHelp("Start with output read in the last DURATION (30s, 10m, 2h, 1d) or since an RFC 3339 time (2026-12-03T08:00:00Z).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Leave out output read after this time (a duration back from now, or RFC 3339); following ends once it has passed.", valueName: "time"))
    var until: String?

    @Flag(name: [.customShort("f"), .long], help: "Follow the job live (the default; for tail -f habits).")
    var follow = false

    @Flag(help: "Print what is archived now and exit, instead of following.")
    var noFollow = false

    @Option(help: ArgumentHelp(
        "If the job does not exist yet, wait for it to start, at most DURATION (bare --wait: \(WaitOption.bareDefault)); then exit 2.",
        valueName: "duration"))
    var wait: String?

    @Flag(help: "When the job's agent stops cleanly (a tail sidecar shut down), print what is archived and exit 0 instead of waiting for it.")
    var exitOnStop = false

    @Flag(help: "Prefix each line with the time the agent read it (UTC; lines read within about 25 ms of each other share a time).")
    var timestamps = false

    @Flag(help: "Print the bytes exactly as archived: no pinned bars, no collapsing of redrawn lines.")
    var raw = false

    @Option(name: .customLong("stream"), help: ArgumentHelp("Only this stream (repeatable): stdout, stderr, or a tailed file's path.", valueName: "name"))
    var streams: [String] = []

    func validate() throws {
        if let problem = JobID.problem(with: self.job) { throw ValidationError(problem) }
        for (name, value) in [("--since", self.since), ("--until", self.until)] {
            if let value, TimeArgument.parse(value) == nil { throw ValidationError("\(name) takes \(TimeArgument.expected) (got \"\(value)\")") }
        }
        if let wait = self.wait, TimeArgument.durationMs(wait) == nil {
            throw ValidationError("--wait takes a duration like 30s, 10m or 1h (got \"\(wait)\")")
        }
        if self.tail != nil && self.since != nil { throw ValidationError("use --tail or --since, not both") }
        if self.follow && self.noFollow { throw ValidationError("use --follow or --no-follow, not both") }
    }

    func run() async throws {
        MallocTuning.forStreaming()
        var logger = Logger(label: "tailcast.watch")
        logger.logLevel = .warning
        let untilMs = self.until.flatMap { TimeArgument.parse($0) }
        var options = Watcher.Options(
            endpoint: self.server.endpoint, job: self.job, follow: !self.noFollow && untilMs.map { $0 > UnixTime.nowMs() } ?? true, tailLines: self.tail,
            sinceMs: self.since.flatMap { TimeArgument.parse($0) }, streams: self.streams.isEmpty ? nil : self.streams,
            timestamps: self.timestamps, headers: !self.raw && self.streams.count != 1
        )
        options.untilMs = untilMs
        options.waitForJob = self.wait.flatMap(TimeArgument.durationMs).map { .milliseconds(Int64(clamping: $0)) }
        options.exitOnStop = self.exitOnStop
        let watcher = Watcher(options: options, logger: logger, output: WatchOutputs.make(raw: self.raw, colour: self.color.wanted(on: 1)), onNotice: { notice($0) })
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
        case .caughtUp, .outputClosed:
            return
        case .unknownStreams(let message):
            notice(message)
            throw ExitCode(ExitCodes.unknownJob)
        case .refused(let code, let message):
            notice(message)
            throw ExitCode(ExitCodes.forRefusal(code))
        }
    }
}

/// `watch --wait` without a value: ArgumentParser options always take one, so a bare `--wait` is
/// given the default before parsing.
enum WaitOption {
    static let bareDefault = "10m"

    /// The arguments with a bare `--wait` of `watch` written as `--wait=10m`.
    static func expandingBare(_ arguments: [String]) -> [String] {
        guard let command = arguments.firstIndex(where: { !$0.hasPrefix("-") }), arguments[command] == "watch" else { return arguments }
        return arguments.enumerated().map { index, argument in
            guard index > command, argument == "--wait" else { return argument }
            // `--wait 5m` keeps its value: only a --wait not followed by a duration is bare.
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            return next.flatMap(TimeArgument.durationMs) == nil ? "--wait=\(Self.bareDefault)" : argument
        }
    }
}
