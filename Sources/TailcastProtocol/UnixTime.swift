import Foundation

/// Times on the wire are Unix milliseconds.
public enum UnixTime {
    public static func nowMs() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
