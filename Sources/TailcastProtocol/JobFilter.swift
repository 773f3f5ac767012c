#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which jobs a listing shows: `tailcast ls [PATTERN] --state S --since T`, and the same query members
/// of `GET /v1/jobs` (`pattern` or `q`, `state`, `since`).
public struct JobFilter: Sendable, Equatable {
    /// A shell glob on the job id (`train-*`, `web-[12]`).
    public var pattern: String?
    public var state: JobState?
    /// Jobs started at or after this Unix time (ms).
    public var sinceMs: UInt64?

    public init(pattern: String? = nil, state: JobState? = nil, sinceMs: UInt64? = nil) {
        self.pattern = pattern
        self.state = state
        self.sinceMs = sinceMs
    }

    public var isEmpty: Bool { self.pattern == nil && self.state == nil && self.sinceMs == nil }

    public func matches(_ job: JobInfo) -> Bool {
        if let pattern = self.pattern, fnmatch(pattern, job.id, 0) != 0 { return false }
        if let state = self.state, job.state != state { return false }
        if let since = self.sinceMs, job.meta.startedAtMs < since { return false }
        return true
    }

    /// The states a person may ask for, for messages.
    public static let stateNames = "running, exited, lost or stopped"

    /// Builds a filter from text values (a query string's, or a command line's), or says which value is wrong.
    public static func parse(pattern: String?, state: String?, since: String?) -> Result<JobFilter, Problem> {
        var filter = JobFilter()
        if let pattern {
            guard !pattern.isEmpty, pattern.utf8.count <= 256 else { return .failure(.init("pattern must be 1 to 256 bytes (a glob on the job id)")) }
            filter.pattern = pattern
        }
        if let state {
            guard let parsed = JobState(rawValue: state) else {
                return .failure(.init("state must be \(Self.stateNames) (got \"\(state.prefix(64))\")"))
            }
            filter.state = parsed
        }
        if let since {
            guard let ms = TimeArgument.parse(since) else {
                return .failure(.init("since must be \(TimeArgument.expected) (got \"\(since.prefix(64))\")"))
            }
            filter.sinceMs = ms
        }
        return .success(filter)
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
