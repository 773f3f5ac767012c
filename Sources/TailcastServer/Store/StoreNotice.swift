/// What nodes tell each other through `NOTIFY tailcast`: offsets and ids, never payloads (a notification
/// holds at most 8,000 bytes). Job ids have no spaces (`JobID`); a stream name may, so it sits between the
/// job and the end, which are split off the outside.
enum StoreNotice: Equatable {
    /// The job's record changed (created, streams, progress, state, exit).
    case job(String)
    /// Bytes of `stream` up to `end` are committed.
    case chunk(job: String, stream: String, end: UInt64)
    /// The job was deleted (`tailcast rm`, retention).
    case removed(String)

    var payload: String {
        switch self {
        case .job(let id): "job \(id)"
        case .chunk(let job, let stream, let end): "chunk \(job) \(stream) \(end)"
        case .removed(let id): "removed \(id)"
        }
    }

    init?(payload: String) {
        let words = payload.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard words.count == 2 else { return nil }
        let rest = String(words[1])
        switch words[0] {
        case "job": self = .job(rest)
        case "removed": self = .removed(rest)
        case "chunk":
            guard let first = rest.firstIndex(of: " "), let last = rest.lastIndex(of: " "), first < last,
                let end = UInt64(rest[rest.index(after: last)...])
            else { return nil }
            self = .chunk(job: String(rest[..<first]), stream: String(rest[rest.index(after: first)..<last]), end: end)
        default: return nil
        }
    }

    var job: String {
        switch self {
        case .job(let id), .removed(let id), .chunk(let id, _, _): id
        }
    }
}
