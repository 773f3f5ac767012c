#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TailcastProtocol

/// A file a job rewrites with how far it is, read by a sidecar (`tailcast tail --progress-file`).
/// Either a JSON object with the members `tailcast progress` takes —
/// `{"current": 40, "total": 100, "unit": "epochs", "label": "train", "message": "val loss 0.31"}` —
/// or a text line `CURRENT[/TOTAL] [UNIT]` such as `40/100 epochs`; the last non-empty line counts.
public struct ProgressFile: Sendable {
    public let path: String
    private var seen: (modified: timespec, size: Int)?
    private var lastProblem: String?

    public init(path: String) { self.path = path }

    /// The file's progress if it changed since the last call; a bad file is reported once per problem.
    public mutating func poll(warn: (String) -> Void) -> ProgressState? {
        var st = stat()
        guard stat(self.path, &st) == 0 else { return nil }
        let signature = (st.st_mtim, Int(st.st_size))
        if let seen = self.seen, seen.modified.tv_sec == signature.0.tv_sec, seen.modified.tv_nsec == signature.0.tv_nsec,
            seen.size == signature.1
        {
            return nil
        }
        self.seen = signature
        guard let data = FileManager.default.contents(atPath: self.path), data.count <= 64 << 10 else { return nil }
        do {
            let state = try ProgressSocket.state(of: try Self.parse(String(decoding: data, as: UTF8.self)))
            self.lastProblem = nil
            return state
        } catch {
            let problem = "\(error)"
            if problem != self.lastProblem { warn("progress file \(self.path): \(problem)") }
            self.lastProblem = problem
            return nil
        }
    }

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws -> ProgressSocket.Report {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") {
            return try ProtocolJSON.decode(ProgressSocket.Report.self, from: Data(trimmed.utf8))
        }
        guard let line = trimmed.split(whereSeparator: \.isNewline).last.map(String.init) else {
            throw FormatError(description: "empty")
        }
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        let numbers = words.first?.split(separator: "/", omittingEmptySubsequences: false) ?? []
        guard (1...2).contains(numbers.count), let current = Double(numbers[0]),
            numbers.count == 1 || Double(numbers[1]) != nil
        else {
            throw FormatError(description: "expected JSON or a line like \"40/100 epochs\", got \"\(line.prefix(80))\"")
        }
        let total = numbers.count == 2 ? Double(numbers[1]) : nil
        return ProgressSocket.Report(
            current: current, total: total, unit: words.count > 1 ? String(words[1]) : nil,
            label: words.count > 2 ? words.dropFirst(2).joined(separator: " ") : nil, message: nil)
    }
}
