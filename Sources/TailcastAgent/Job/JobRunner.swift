#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import CTailcastSystem
import Foundation
import TailcastProgress
import TailcastProtocol

/// Runs the wrapped command and feeds what it writes to the spool (and, unless quiet, to our own
/// stdout/stderr). Under a pseudo-terminal by default, so the program line-buffers, keeps its colours and
/// draws progress bars; with pipes when stdout and stderr must stay apart.
public final class JobRunner: @unchecked Sendable {
    public struct Options: Sendable {
        public var command: [String]
        public var usePTY: Bool
        public var mirror: Bool
        public var environment: [String: String]
        /// How long to keep reading output after the command exited (descendants may hold the terminal).
        public var drainAfterExit: Duration

        public init(command: [String], usePTY: Bool, mirror: Bool, environment: [String: String] = [:], drainAfterExit: Duration = .seconds(2)) {
            self.command = command
            self.usePTY = usePTY
            self.mirror = mirror
            self.environment = environment
            self.drainAfterExit = drainAfterExit
        }
    }

    public static let stdoutStream: UInt32 = 1
    public static let stderrStream: UInt32 = 2

    public struct LaunchError: Error, CustomStringConvertible {
        public var description: String
    }

    private let options: Options
    private let spool: Spool
    /// Where progress recognised in the output goes; nil turns recognition off.
    private let progress: ProgressTracker?
    private var pid: pid_t = 0
    var master: Int32 = -1
    private var signalSources: [DispatchSourceSignal] = []
    private let exited = DispatchSemaphore(value: 0)
    let exitedFlag = ManagedAtomicFlag()

    public init(options: Options, spool: Spool, progress: ProgressTracker?) {
        self.options = options
        self.spool = spool
        self.progress = progress
    }

    /// Signals that reach the job through us. Their default action must not kill the agent first.
    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    /// Starts the command, forwards signals, and blocks until it exited and its output was read.
    public func run() throws -> ExitStatus {
        signal(SIGPIPE, SIG_IGN)
        var readers: [Thread] = []
        let finishedReading = DispatchGroup()
        let input = Self.inputSource()
        if self.options.usePTY {
            let (master, slavePath) = try Self.openPTY()
            self.master = master
            Self.copyWindowSize(to: master)
            // Piped input is the job's input, not its output: the job's terminal does not echo it.
            if input == .pipe { Self.turnOffEcho(master) }
            try self.spawn(newSession: true) { actions in
                posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
                posix_spawn_file_actions_adddup2(&actions, 0, 1)
                posix_spawn_file_actions_adddup2(&actions, 0, 2)
            }
            readers.append(self.reader(fd: master, stream: Self.stdoutStream, mirrorTo: 1, group: finishedReading))
        } else {
            var out: [Int32] = [0, 0]
            var err: [Int32] = [0, 0]
            guard tailcast_pipe_cloexec(&out) == 0, tailcast_pipe_cloexec(&err) == 0 else {
                throw LaunchError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
            }
            try self.spawn(newSession: false) { actions in
                posix_spawn_file_actions_adddup2(&actions, out[1], 1)
                posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            }
            close(out[1])
            close(err[1])
            readers.append(self.reader(fd: out[0], stream: Self.stdoutStream, mirrorTo: 1, group: finishedReading))
            readers.append(self.reader(fd: err[0], stream: Self.stderrStream, mirrorTo: 2, group: finishedReading))
        }
        self.forwardSignals()
        for reader in readers { reader.start() }
        let restoreTerminal = self.master >= 0 ? self.forwardInput(from: input, to: self.master) : nil

        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) < 0 && errno == EINTR {}
        let exit: ExitStatus =
            (status & 0x7F) == 0 ? ExitStatus(code: (status >> 8) & 0xFF) : ExitStatus(signal: status & 0x7F)
        self.exitedFlag.set()
        restoreTerminal?()
        finishedReading.wait()
        for source in self.signalSources { source.cancel() }
        if self.master >= 0 { close(self.master) }
        return exit
    }

    private func spawn(newSession: Bool, fileActions: (inout posix_spawn_file_actions_t) -> Void) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        fileActions(&actions)
        // The job gets its three standard descriptors and nothing else of ours: not every library opens its
        // descriptors close-on-exec (the uplink's socket, connected before the job starts, is not), and a
        // job holding it could write into the stream, and keeps a killed agent's connection open.
        tailcast_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The job gets default signal handling and an empty mask, whatever we ignore or block.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Self.forwardedSignals + [SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        // A new session makes the pty its controlling terminal; otherwise a process group of its own, so
        // a signal we forward reaches the whole job once.
        let setsid: Int16 = 0x80  // POSIX_SPAWN_SETSID (glibc)
        let flags = Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) | (newSession ? setsid : Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setflags(&attributes, flags)
        if !newSession { posix_spawnattr_setpgroup(&attributes, 0) }

        var environment = JobEnvironment.withoutSecrets(ProcessInfo.processInfo.environment)
        for (key, value) in self.options.environment { environment[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = self.options.command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, argv[0]!, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw LaunchError(description: "cannot run \(self.options.command[0]): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    private static func openPTY() throws -> (Int32, String) {
        var name = [CChar](repeating: 0, count: 128)
        let master = tailcast_open_pty(&name, name.count)
        guard master >= 0 else {
            throw LaunchError(description: "cannot open a pseudo-terminal: \(String(cString: strerror(errno))) (try --no-pty)")
        }
        return (master, name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// The job's terminal is as wide as ours (or 80x24 when we have none).
    private static func copyWindowSize(to master: Int32) {
        var size = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0)
        for fd in [Int32(1), 0, 2] where isatty(fd) == 1 {
            var candidate = winsize()
            if ioctl(fd, UInt(TIOCGWINSZ), &candidate) == 0, candidate.ws_col > 0 {
                size = candidate
                break
            }
        }
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
    }

    private func forwardSignals() {
        for number in Self.forwardedSignals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                if number == SIGWINCH {
                    // Resizing the pty sends SIGWINCH to the job's foreground process group.
                    if self.master >= 0 { Self.copyWindowSize(to: self.master) }
                } else {
                    kill(-self.pid, number)
                }
            }
            source.resume()
            self.signalSources.append(source)
        }
    }

    private func reader(fd: Int32, stream: UInt32, mirrorTo mirror: Int32, group: DispatchGroup) -> Thread {
        group.enter()
        let thread = Thread { [self] in
            defer {
                if fd != self.master { close(fd) }
                group.leave()
            }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            var drainDeadline: ContinuousClock.Instant?
            var parser = ProgressParser()
            defer { self.progress?.record(parsed: parser.finish(), timeMs: UnixTime.nowMs()) }
            while true {
                if self.exitedFlag.isSet, drainDeadline == nil { drainDeadline = .now + self.options.drainAfterExit }
                if let deadline = drainDeadline, ContinuousClock.now >= deadline { return }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if ready == 0 {
                    // Idle: a bar redrawn with a leading \r is complete now, not when the next redraw starts.
                    if let progress = self.progress { progress.record(parsed: parser.flushPartialLine(), timeMs: UnixTime.nowMs()) }
                    continue
                }
                if ready < 0 {
                    if errno == EINTR { continue }
                    return
                }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                // EOF on a pipe; EIO on a pty once every process holding the terminal is gone.
                if n <= 0 { return }
                let time = UnixTime.nowMs()
                buffer.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    // Errors (a closed terminal) are ignored: they must never stop the job.
                    if self.options.mirror { _ = tailcast_write_all(mirror, bytes.baseAddress, bytes.count) }
                    self.spool.append(stream: stream, bytes: bytes, timeMs: time)
                    if let progress = self.progress { progress.record(parsed: parser.feed(bytes), timeMs: time) }
                }
            }
        }
        thread.name = "tailcast-reader-\(stream)"
        return thread
    }
}

/// A flag set once by one thread and read by others.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { self.lock.withLock { self.value = true } }
    var isSet: Bool { self.lock.withLock { self.value } }
}
