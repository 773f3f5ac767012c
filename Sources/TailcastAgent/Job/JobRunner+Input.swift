#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import Foundation

/// What the user types or pipes reaches a job that runs under a pseudo-terminal, as if it ran directly:
/// `echo y | tailcast run -- ./setup` and answering a prompt both work. (With --no-pty the job simply
/// inherits our stdin.)
extension JobRunner {
    enum InputSource: Equatable {
        /// Our terminal, and we are its foreground job: keys go to the job one by one.
        case terminal
        /// Our terminal, but we run in the background: reading it would stop us (SIGTTIN), so the job
        /// gets no input, as a background job would not.
        case backgroundTerminal
        /// A pipe, a file, /dev/null: passed on, then an end of file.
        case pipe
    }

    static func inputSource() -> InputSource {
        guard isatty(0) == 1 else { return .pipe }
        return tcgetpgrp(0) == getpgrp() ? .terminal : .backgroundTerminal
    }

    static func turnOffEcho(_ master: Int32) {
        var settings = termios()
        guard tcgetattr(master, &settings) == 0 else { return }
        settings.c_lflag &= ~tcflag_t(ECHO | ECHONL)
        _ = tcsetattr(master, TCSANOW, &settings)
    }

    /// Starts passing stdin to the job's terminal; returns what puts our terminal back as it was.
    ///
    /// Our terminal stops echoing and stops collecting lines (the job's terminal does both, so what is
    /// typed is echoed once and is part of the output, as in `script`). Its signal keys still work:
    /// Ctrl-C and Ctrl-\ reach the job through us, and Ctrl-Z stops us, as before.
    func forwardInput(from source: InputSource, to master: Int32) -> (() -> Void)? {
        if source == .backgroundTerminal { return nil }
        var saved = termios()
        let isTerminal = source == .terminal && tcgetattr(0, &saved) == 0
        if isTerminal {
            var keys = saved
            keys.c_lflag &= ~tcflag_t(ICANON | ECHO | ECHONL | IEXTEN)
            // Enter goes as typed (\r); the job's terminal maps it, or a full-screen job reads it raw.
            keys.c_iflag &= ~tcflag_t(ICRNL | INLCR | IGNCR)
            withUnsafeMutableBytes(of: &keys.c_cc) { cc in
                cc[Int(VMIN)] = 1
                cc[Int(VTIME)] = 0
            }
            _ = tcsetattr(0, TCSANOW, &keys)
        }
        let restore: (() -> Void)? = isTerminal ? { _ = tcsetattr(0, TCSANOW, &saved) } : nil
        // Its own descriptor: `run` closes `master` when the job ends, and the number may be reused at
        // once (the spool's job.json) while this thread still has input to write.
        let target = dup(master)
        guard target >= 0 else { return restore }
        let thread = Thread { [self] in
            defer { close(target) }
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            var last: UInt8 = 0x0A
            while !self.exitedFlag.isSet {
                var poller = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if ready == 0 || (ready < 0 && errno == EINTR) { continue }
                let n = ready < 0 ? -1 : buffer.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    // The end of piped input: ^D ends the job's read; one more after an unfinished line.
                    if !isTerminal {
                        let eof: [UInt8] = last == 0x0A ? [0x04] : [0x04, 0x04]
                        _ = eof.withUnsafeBytes { tailcast_write_all(target, $0.baseAddress, $0.count) }
                    }
                    return
                }
                last = buffer[n - 1]
                // A job that exited leaves a closed terminal: the write fails and nothing else happens.
                let written = buffer.withUnsafeBytes { tailcast_write_all(target, $0.baseAddress, n) }
                if written != 0 { return }
            }
        }
        thread.name = "tailcast-input"
        thread.start()
        return restore
    }
}
