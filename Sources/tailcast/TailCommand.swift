import ArgumentParser
import Foundation
import Logging
import TailcastAgent
import TailcastProtocol
import TailcastUplink

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow log files beside a service or job (a sidecar) and stream every line to the server.",
        discussion: """
            Each file is a stream of the job, named by its path; `tailcast watch JOB --stream PATH` follows one. Patterns are shell globs (quote them): `*`, `?`, `[...]` within a path segment, `**` across segments. Files that appear later are picked up within a second and read from their start; files that exist when it first starts (no checkpoints yet) are read from their end, like tail -F, unless --from-start.

            Symbolic links are not followed: only regular files are read (O_NOFOLLOW, checked on the open file), so whoever can write into a followed directory cannot make the sidecar send another file (app.log -> /etc/shadow). A link the patterns match is reported once on stderr. The directories you spell out before the first wildcard may be links (your choice); name a linked file's target itself.

            Changes are noticed with inotify on the directories the patterns reach, and a file that changed is read at once after a quiet spell, and at most every 2 ms while it keeps changing; its lines then go to the server like `run`'s (see --flush-window-ms). Once a second the patterns are expanded again and every file is looked at. Directories that cannot be watched (fs.inotify.max_user_watches ran out) or whose files grow without events (network file systems) are polled every 250 ms instead.

            Files are followed by identity (device, inode, first bytes), not path: after a rotation by rename the old file is read to its end before the new one; a file that shrinks (copytruncate) is read again from its start and the possible gap is reported (prefer rename + create); a deleted file is read to its end and then closed. While the server is unreachable, reading pauses (the files are the buffer). What the server acknowledged is checkpointed in --state-dir, so a restart, even after kill -9, delivers every line once. SIGTERM or SIGINT stops cleanly.

            Example: tailcast tail --job web-1 '/var/log/app/*.log' /var/log/nginx/access.log
            """
    )

    @Option(help: ArgumentHelp("Job id: the same id continues the same streams after a restart.", valueName: "id"))
    var job: String

    @OptionGroup var server: ServerOption

    @OptionGroup var flushWindow: FlushWindowOption

    @Option(name: .customLong("exclude"), help: ArgumentHelp("Never open files matching this glob (repeatable; without '/' it matches the file name).", valueName: "glob"))
    var excludes: [String] = []

    @Flag(help: "Read files that exist at start-up from their start instead of their end.")
    var fromStart = false

    @Option(help: ArgumentHelp("Where checkpoints and unsent lines are kept (default $TAILCAST_SPOOL/JOB, else ~/.local/state/tailcast/tail/JOB).", valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("A file the job rewrites with its progress: JSON like `tailcast progress` takes, or a line like \"40/100 epochs\".", valueName: "file"))
    var progressFile: String?

    @Option(help: ArgumentHelp("Longer lines are cut here and counted.", valueName: "bytes"))
    var maxLineBytes = 1 << 20

    @Argument(help: ArgumentHelp("Files or globs to follow.", valueName: "pattern"))
    var patterns: [String] = []

    func validate() throws {
        if let problem = JobID.problem(with: self.job) { throw ValidationError(problem) }
        guard !self.patterns.isEmpty || self.progressFile != nil else {
            throw ValidationError("no files given: tailcast tail --job ID FILE-OR-GLOB... [--progress-file FILE]")
        }
        guard self.maxLineBytes >= 1024 else { throw ValidationError("--max-line-bytes must be at least 1024") }
    }

    func run() async throws {
        MallocTuning.forStreaming()
        // First thing: a SIGTERM from here on stops cleanly, even one that comes before the tailer runs.
        let stop = StopSwitch()
        let signals = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.trigger() }
            source.resume()
            return source
        }
        let environment = ProcessInfo.processInfo.environment
        let stateRoot = self.stateDir
            ?? environment["TAILCAST_SPOOL"].map { "\($0)/\(self.job)" }
            ?? stateHome() + "/tailcast/tail/\(self.job)"
        try FileManager.default.createDirectory(atPath: stateRoot, withIntermediateDirectories: true)
        // The run id outlives restarts, so the server lets this sidecar continue its own job.
        let runFile = stateRoot + "/run-id"
        let runID: String
        if let saved = try? String(contentsOfFile: runFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !saved.isEmpty {
            runID = saved
        } else {
            runID = UUID().uuidString.lowercased()
            try runID.write(toFile: runFile, atomically: true, encoding: .utf8)
        }
        let warn: @Sendable (String) -> Void = { notice($0) }
        let checkpoints = Tailer.loadCheckpoints(stateRoot + "/checkpoints.json", warn: warn)
        let meta = JobMeta(
            kind: "tail", command: ["tailcast", "tail"] + self.patterns, host: ProcessInfo.processInfo.hostName,
            user: RunCommand.userName(), cwd: FileManager.default.currentDirectoryPath, pid: getpid(), startedAtMs: UnixTime.nowMs()
        ).fitted()
        let hello = ControlMessage.Hello(job: self.job, runId: runID, agent: "tailcast/\(Tailcast.version)", meta: meta)
        let spool = try Spool(directory: stateRoot + "/spool", hello: hello, streams: [], maxBytes: 512 << 20, refusesWhatItCannotWrite: true)

        var logger = Logger(label: "tailcast.uplink")
        logger.logLevel = .warning
        let progress = ProgressTracker()
        let uplink = Uplink(configuration: .init(endpoint: self.server.endpoint, flushWindow: self.flushWindow.window), spool: spool, progress: progress, logger: logger) { event in
            switch event {
            case .unreachable(let why): notice("server \(self.server.url) unreachable (\(why)); reading paused until it is back")
            case .connected: notice("connected to \(self.server.url); catching up")
            case .refused(let why): notice("server refused the job: \(why.message)")
            }
        }
        // A refusal (another run owns the job id) is final: stop, so a service manager sees the failure.
        let delivery = Task {
            let outcome = await uplink.run()
            if case .refused = outcome { stop.trigger() }
            return outcome
        }
        // Lines read go to the spool file within a time mark even while nothing is sent.
        let sealer = Task { await spool.keepSealed() }
        defer { sealer.cancel() }
        let tailer = Tailer(
            options: .init(patterns: self.patterns.map(PathPattern.init), excludes: self.excludes.map(PathPattern.init),
                           fromStart: self.fromStart, progressFile: self.progressFile, maxLineBytes: self.maxLineBytes,
                           // Hidden: poll every file instead of waiting for inotify (the benchmark compares both).
                           useFileEvents: environment["TAILCAST_TAIL_POLL"] != "1",
                           // A pass never waits longer than the uplink would batch: 0 reads on every event.
                           passInterval: min(PassPacing.busyInterval, self.flushWindow.window)),
            spool: spool, checkpointPath: stateRoot + "/checkpoints.json",
            acknowledged: { uplink.acknowledgedOffsets }, warn: warn, restored: checkpoints, progress: progress)
        stop.attach(tailer.stop)
        try await RunCommand.onThread { tailer.run() }
        for source in signals { source.cancel() }
        // A clean stop: the server shows the job `stopped` (it continues when the sidecar starts again),
        // not `agent lost`. Bounded: an unreachable server cannot hold the exit up.
        uplink.stop()
        let deadline = Task {
            try await Task.sleep(for: .seconds(2))
            delivery.cancel()
        }
        defer { deadline.cancel() }
        if case .refused(let why) = await delivery.value { throw ExitCode(ExitCodes.forRefusal(why.code)) }
        spool.remove()
    }
}

/// Remembers a stop request until there is something to stop.
final class StopSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var action: (@Sendable () -> Void)?

    func trigger() {
        let action = self.lock.withLock { () -> (@Sendable () -> Void)? in
            self.requested = true
            return self.action
        }
        action?()
    }

    func attach(_ action: @escaping @Sendable () -> Void) {
        let now = self.lock.withLock { () -> Bool in
            self.action = action
            return self.requested
        }
        if now { action() }
    }
}
