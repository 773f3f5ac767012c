import Foundation

/// A point in time as people write it on a command line or in a query: a duration back from now
/// (`90s`, `10m`, `2h`, `1d`) or an RFC 3339 time (`2026-12-03T08:00:00Z`, `2026-12-03 09:00:00+01:00`).
public enum TimeArgument {
    /// What `parse` accepts, for error messages.
    public static let expected = "a duration like 30s, 10m, 2h or 1d, or an RFC 3339 time like 2026-12-03T08:00:00Z"

    /// Unix milliseconds, or nil when `text` is neither form.
    public static func parse(_ text: String, nowMs: UInt64 = UnixTime.nowMs()) -> UInt64? {
        if let duration = self.durationMs(text) { return nowMs - min(nowMs, duration) }
        return self.rfc3339Ms(text)
    }

    /// "90s", "10m", "2h", "1d" → milliseconds.
    public static func durationMs(_ text: String) -> UInt64? {
        guard let unit = text.last, let value = UInt64(text.dropLast()) else { return nil }
        let scale: UInt64
        switch unit {
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        default: return nil
        }
        let (ms, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : ms
    }

    /// RFC 3339 (section 5.6): date, `T` (or a space, or `t`), time with optional fraction, `Z` or an offset.
    static func rfc3339Ms(_ text: String) -> UInt64? {
        var normalized = text.uppercased()
        if normalized.count > 10, let separator = normalized.index(normalized.startIndex, offsetBy: 10, limitedBy: normalized.endIndex),
            normalized[separator] == " "
        {
            normalized.replaceSubrange(separator...separator, with: "T")
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: normalized) { return self.ms(date) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: normalized).flatMap(self.ms)
    }

    private static func ms(_ date: Date) -> UInt64? {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        return ms >= 0 && ms < 1e15 ? UInt64(ms) : nil
    }
}
