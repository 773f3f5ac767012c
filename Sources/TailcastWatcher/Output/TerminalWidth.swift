#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many columns a terminal has.
public enum TerminalWidth {
    /// The terminal's on `fd`, or nil when `fd` is not a terminal (or does not say).
    public static func of(_ fd: Int32) -> Int? {
        var size = winsize()
        return ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : nil
    }
}
