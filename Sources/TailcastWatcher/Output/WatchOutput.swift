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
    /// Bytes of a stream, for stdout (1) or stderr (2).
    func write(_ bytes: [UInt8], to fd: Int32)
    /// Every bar of the job, as it is now.
    func progress(_ bars: [ProgressState])
    /// Called a few times a second, for what depends on time (throttled redraws, idle partial lines).
    func tick()
    /// The watch is over: print the bars' final state once.
    func finish()
}

public enum WatchOutputs {
    public static func make(raw: Bool) -> any WatchOutput {
        if raw { return RawOutput() }
        if isatty(1) == 1 { return TerminalOutput() }
        return PipeOutput()
    }
}

/// Writes all of `bytes`; gives up quietly on a closed pipe or terminal (the watch then ends on its own).
func writeFully(_ fd: Int32, _ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { tailcast_write_all(fd, $0.baseAddress, $0.count) }
}

/// The archived bytes, nothing added or removed; progress is not shown.
final class RawOutput: WatchOutput, @unchecked Sendable {
    func write(_ bytes: [UInt8], to fd: Int32) { writeFully(fd, bytes) }
    func progress(_ bars: [ProgressState]) {}
    func tick() {}
    func finish() {}
}
