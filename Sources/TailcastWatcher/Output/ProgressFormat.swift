import Foundation
import TailcastProtocol

/// How progress reads to a person: "21.0 MiB/48.0 MiB", "10.3 MiB/s", "3m12s".
public enum ProgressFormat {
    public static func amount(_ value: Double, unit: String) -> String {
        if unit == "B" { return bytes(value) }
        let number = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.1f", value)
        return unit.isEmpty ? number : "\(number) \(unit)"
    }

    public static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = value
        var index = 0
        while scaled >= 1024 && index < units.count - 1 {
            scaled /= 1024
            index += 1
        }
        return index == 0 ? "\(Int64(value)) B" : String(format: "%.1f %@", scaled, units[index])
    }

    /// "3m12s", "1h05m", "45s": short enough for a table cell, and read the same in `ls` and `watch`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%dh%02dm", total / 3600, total / 60 % 60) }
        if total >= 60 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return "\(total)s"
    }

    /// "10.3 MiB/s", "12.3 it/s", "1.19x" for media time (ffmpeg's speed); nil for a finished or still bar, and for
    /// a bar known only as a percentage, whose "%/s" would read as nonsense.
    public static func rate(_ bar: ProgressState) -> String? {
        guard let rate = bar.rate, rate > 0, !bar.done, bar.unit != "%" else { return nil }
        switch bar.unit {
        case "B": return "\(bytes(rate))/s"
        case "s": return String(format: "%.2fx", rate)
        default: return String(format: "%.1f %@/s", rate, bar.unit.isEmpty ? "it" : bar.unit)
        }
    }

    /// "45%", or "" without a total.
    public static func percent(_ bar: ProgressState) -> String {
        bar.percent.map { String(format: "%.0f%%", $0.rounded(.down)) } ?? ""
    }

    /// Counts, rate and ETA: "450/1000 it  12.3 it/s  ETA 45s".
    public static func details(_ bar: ProgressState) -> String {
        var parts: [String] = []
        if let total = bar.total {
            if bar.unit == "B" {
                parts.append("\(bytes(bar.current))/\(bytes(total))")
            } else {
                parts.append("\(amount(bar.current, unit: "").trimmingCharacters(in: .whitespaces))/\(amount(total, unit: bar.unit))")
            }
        } else {
            parts.append(amount(bar.current, unit: bar.unit))
        }
        if let rate = rate(bar) { parts.append(rate) }
        if let eta = bar.etaSeconds, !bar.done, bar.total != nil { parts.append("ETA \(duration(eta))") }
        if bar.done { parts.append("done") }
        if let message = bar.message, !message.isEmpty { parts.append(message) }
        return parts.joined(separator: "  ")
    }

    /// One line for a terminal of `width` columns: label, bar, percent, details.
    public static func line(_ bar: ProgressState, width: Int) -> String {
        let label = String((bar.label ?? bar.key).prefix(24))
        let details = self.details(bar)
        let percent = self.percent(bar)
        var meter = ""
        if let fraction = bar.percent.map({ $0 / 100 }) {
            let cells = max(10, min(30, width - label.count - details.count - 12))
            let filled = Int((fraction * Double(cells)).rounded(.down))
            meter = "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: cells - filled) + "] "
        }
        // Labels, units and messages come from the job: no control character reaches the terminal.
        let text = "\(label)  \(meter)\(percent.isEmpty ? "" : percent + "  ")\(details)".escapingControlCharacters
        return String(text.prefix(max(10, width - 1)))
    }

    /// A line for logs and pipes: "progress train 45% 450/1000 it  12.3 it/s  ETA 45s".
    public static func plain(_ bar: ProgressState) -> String {
        let percent = self.percent(bar)
        return "progress \(bar.label ?? bar.key)\(percent.isEmpty ? "" : " " + percent) \(details(bar))".escapingControlCharacters
    }
}
