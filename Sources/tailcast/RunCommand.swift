import ArgumentParser
import Foundation
import Logging
import TailcastAgent
import TailcastProtocol
import TailcastUplink

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command and stream its output to the server.",
        discussion: """
            The command runs under a pseudo-terminal (colours, progress bars, line buffering; the size follows your terminal) or, with --no-pty, through pipes that keep stdout and stderr apart. Its output is mirrored here, written to a local spool on disk first, and sent compressed to the server, which archives it. If the server is down or slow the job keeps running; the output is delivered when the server is back. SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH reach the job, and so does what you type or pipe in (piped input is not echoed; under the pseudo-terminal a line is at most 4 KiB, so pipe data with --no-pty).

            At the end, run waits up to --wait seconds for the server to acknowledge every byte and the exit status, then exits with the job's status (128+N if killed by signal N). If delivery did not finish, it says so and keeps the spool.

            Example: tailcast run --job train-42 -- python3 train.py --epochs 10
            """
    )

    @Option(help: ArgumentHelp("Job id (letters, digits, . _ -). Default: a readable unique id, printed to stderr.", valueName: "id"))
    var job: String?

    @OptionGroup var server: ServerOption

    @Flag(help: "If the job id is taken by an earlier run (made with the same token) that has ended or lost its agent, start the job anew: the earlier run's output is deleted from the server, and its watchers are told.")
    var replace = false

    @Flag(help: "Use pipes instead of a pseudo-terminal: stdout and stderr stay separate streams.")
    var noPty = false

    @Flag(name: .shortAndLong, help: "Do not mirror the job's output to this terminal.")
    var quiet = false

    @Option(help: ArgumentHelp("Seconds to wait at the end for the server to acknowledge everything.", valueName: "seconds"))
    var wait: Double = 30

    @Option(help: ArgumentHelp("Where undelivered output is kept (env TAILCAST_SPOOL).", valueName: "dir"))
    var spoolDir: String?

    @Option(help: ArgumentHelp("Most undelivered output kept on disk, in MiB; beyond it the oldest output not yet sent is given up, and a line in the stream says how much was lost there.", valueName: "MiB"))
    var spoolMaxMib: UInt64 = 1024

    @Flag(help: "Do not look for progress bars in the output (explicit `tailcast progress` still works).")
    var noProgress = false

    @OptionGroup var flushWindow: FlushWindowOption

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !self.command.isEmpty else { throw ValidationError("no command given: tailcast run [options] -- COMMAND [ARGS...]") }
        if let job = self.job, let problem = JobID.problem(with: job) { throw ValidationError(problem) }
        guard self.wait >= 0 else { throw ValidationError("--wait must not be negative") }
        guard self.spoolMaxMib >= 1 else { throw ValidationError("--spool-max-mib must be at least 1") }
    }

    func run() async throws {
        MallocTuning.forStreaming()
        let jobID = self.job ?? Self.generatedID(for: self.command)
        if self.job == nil { notice("job \(jobID)") }
        let runID = UUID().uuidString.lowercased()
        let streams: [ControlMessage.Open] =
            self.noPty
            ? [.init(stream: JobRunner.stdoutStream, name: "stdout"), .init(stream: JobRunner.stderrStream, name: "stderr")]
            : [.init(stream: JobRunner.stdoutStream, name: "stdout")]
        let meta = JobMeta(
            kind: "run", command: self.command, host: ProcessInfo.processInfo.hostName, user: Self.userName(),
            cwd: FileManager.default.currentDirectoryPath, pid: getpid(), pty: !self.noPty, startedAtMs: UnixTime.nowMs()
        ).fitted()
        let hello = ControlMessage.Hello(job: jobID, runId: runID, agent: "tailcast/\(Tailcast.version)", meta: meta, replace: self.replace ? true : nil)
        let spoolRoot = self.spoolDir ?? ProcessInfo.processInfo.environment["TAILCAST_SPOOL"] ?? Self.defaultSpoolRoot()
        let abandoned = Spool.abandoned(under: spoolRoot)
        if !abandoned.isEmpty {
            notice("\(abandoned.count) earlier run(s) left undelivered output in \(spoolRoot); `tailcast flush` sends it")
        }
        let spool: Spool
        do {
            spool = try Spool(directory: "\(spoolRoot)/\(jobID)-\(runID.prefix(8))", hello: hello, streams: streams, maxBytes: self.spoolMaxMib << 20)
        } catch {
            notice("\(error)")
            throw ExitCode(ExitCodes.failure)
        }

        let progress = ProgressTracker()
        let progressSocket = try? ProgressSocket(tracker: progress)
        defer { progressSocket?.close() }
        var environment = ["TAILCAST_JOB": jobID]
        environment[ProgressSocket.environmentVariable] = progressSocket?.path

        var logger = Logger(label: "tailcast.uplink")
        logger.logLevel = .warning
        let uplink = Uplink(
            // At most half the spool in flight: the other half can always give up its oldest when full.
            configuration: .init(
                endpoint: self.server.endpoint, flushWindow: self.flushWindow.window,
                maxUnacknowledged: min(64 << 20, (self.spoolMaxMib << 20) / 2)),
            spool: spool, progress: progress, logger: logger
        ) { event in
            switch event {
            case .unreachable(let why):
                notice("server \(self.server.url) unreachable (\(why)); output is kept and sent when it is back")
            case .connected: notice("connected to \(self.server.url); catching up")
            case .refused:
                // Said where run acts on it: before the job starts, or at its end with the spool kept.
                break
            }
        }
        let delivery = Task { await uplink.run() }
        let sealer = Task { await spool.keepSealed() }
        defer { sealer.cancel() }
        // Ask before starting the job whether the server takes it (token, job id): a job that runs for
        // hours and is then found unarchived is worse than one that does not start. A server that is down
        // or slow does not hold the job back: its output is spooled meanwhile.
        if let refusal = await Self.firstAnswer(of: uplink) {
            notice("server refused the job: \(refusal.message)")
            spool.remove()
            throw ExitCode(ExitCodes.forRefusal(refusal.code))
        }

        let runner = JobRunner(
            options: .init(command: self.command, usePTY: !self.noPty, mirror: !self.quiet, environment: environment),
            spool: spool, progress: self.noProgress ? nil : progress
        )
        let exit: ExitStatus
        do {
            exit = try await Self.onThread { try runner.run() }
        } catch {
            notice("\(error)")
            try? spool.finish(exit: ExitStatus(code: 127), endedAtMs: UnixTime.nowMs())
            _ = await Self.waitFor(delivery, seconds: min(self.wait, 5))
            spool.remove()
            throw ExitCode(127)
        }
        progress.finishAll()
        try spool.finish(exit: exit, endedAtMs: UnixTime.nowMs())

        // A slow or absent server: say what run is waiting for, once, instead of hanging silently.
        let waitingNotice = Task {
            try await Task.sleep(for: .seconds(2))
            notice("waiting up to \(Int(self.wait))s for the server to acknowledge the last \(uplink.pendingBytes) bytes and the exit status")
        }
        let outcome = await Self.waitFor(delivery, seconds: self.wait)
        waitingNotice.cancel()
        switch outcome {
        case .delivered:
            spool.remove()
        case .refused(let why):
            notice("not archived: \(why.message); output kept in \(spool.directory) (`tailcast flush --discard` lets it go)")
            throw ExitCode(ExitCodes.forRefusal(why.code))
        case .cancelled:
            notice("the server has not acknowledged \(uplink.pendingBytes) bytes and the exit status after \(Int(self.wait))s; output kept in \(spool.directory)")
        }
        if exit.shellStatus != 0 { throw ExitCode(exit.shellStatus) }
    }

    /// Waits at most 5 s for the server's first answer; its refusal, if it refused.
    static func firstAnswer(of uplink: Uplink) async -> ControlMessage.ErrorReport? {
        for _ in 0..<250 {
            if let refusal = uplink.refused { return refusal }
            if uplink.hasConnected || uplink.hasAttempted { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The uplink's outcome, or `.cancelled` once `seconds` pass (the uplink is stopped then).
    static func waitFor(_ task: Task<Uplink.Outcome, Never>, seconds: Double) async -> Uplink.Outcome {
        let deadline = Task {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            task.cancel()
        }
        defer { deadline.cancel() }
        return await task.value
    }

    /// Runs blocking work (waitpid, reads) on its own thread, off Swift's small cooperative pool.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// "train-20261125-130907-3fa2": the program's name, when, and a little randomness.
    static func generatedID(for command: [String]) -> String {
        let program = (command.first.map { ($0 as NSString).lastPathComponent } ?? "job")
            .filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            .drop { $0 == "-" }
            .prefix(40)
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let random = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "\(program.isEmpty ? "job" : String(program))-\(formatter.string(from: Date()))-\(random)"
    }

    static func userName() -> String {
        if let name = ProcessInfo.processInfo.environment["USER"], !name.isEmpty { return name }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }

    static func defaultSpoolRoot() -> String {
        stateHome() + "/tailcast/spool"
    }
}
