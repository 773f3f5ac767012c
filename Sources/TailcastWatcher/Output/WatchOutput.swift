#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import TailcastProtocol

/// Where a watcher's bytes and progress go. Chosen by what stdout is: a terminal gets bars pinned below
/// the scrolling log; a pipe gets redrawn lines collapsed and a progress line now and then; `--raw`
/// gets the bytes exactly as archived.
public protocol WatchOutput: AnyObject, Sendable {
    /// The job, as the server told it (before its bytes).
    func started(_ job: JobInfo)
    /// Bytes of a stream, for stdout (1) or stderr (2).
    func write(_ bytes: [UInt8], to fd: Int32)
    /// Every bar of the job, as it is now.
    func progress(_ bars: [ProgressState])
    /// Called a few times a second, for what depends on time (throttled redraws, idle partial lines).
    func tick()
    /// The watch is over: print the bars' final state once.
    func finish()
}

extension WatchOutput {
    public func started(_ job: JobInfo) {}
}

public enum WatchOutputs {
    /// `colour`: draw the pinned bars dim on a terminal.
    public static func make(raw: Bool, colour: Bool) -> any WatchOutput {
        if raw { return RawOutput() }
        if isatty(1) == 1 { return TerminalOutput(dim: colour) }
        return PipeOutput()
    }
}

/// Writes all of `bytes`; gives up quietly on a closed pipe or terminal (the watcher notices a pipe's
/// reader has gone with `readerGone` and ends).
func writeFully(_ fd: Int32, _ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { tailcast_write_all(fd, $0.baseAddress, $0.count) }
}

/// True when `fd` is a pipe whose reader has gone (`watch JOB | head -1` once head exits): Linux then
/// reports POLLERR on the write end, even while there is nothing to write.
func readerGone(_ fd: Int32) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    return poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLERR) != 0
}

/// The archived bytes, nothing added or removed; progress is not shown.
final class RawOutput: WatchOutput, @unchecked Sendable {
    func write(_ bytes: [UInt8], to fd: Int32) { writeFully(fd, bytes) }
    func progress(_ bars: [ProgressState]) {}
    func tick() {}
    func finish() {}
}
