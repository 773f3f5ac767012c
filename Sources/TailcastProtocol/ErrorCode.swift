/// Why a server refused or ended a session: the `code` member of an `error` message. Each code comes with
/// the WebSocket close code that follows it (PROTOCOL.md §5), so the two never disagree.
public enum ErrorCode: Sendable, Hashable {
    /// Malformed control or data message, unknown type, a message out of order, an invalid id or name.
    case badMessage
    /// A chunk starts beyond what the server holds, or `end` names bytes it does not hold.
    case gap
    /// The client did not offer the `tailcast.v1` subprotocol.
    case subprotocol
    /// No such job.
    case unknownJob
    /// A watch names a stream the job does not have and never will (it ended, or the watch does not follow).
    case unknownStream
    /// The job id belongs to another run, or to another token.
    case jobConflict
    /// A newer connection of the same run took over.
    case replaced
    /// The job's end is stored: nothing more is accepted for it.
    case jobEnded
    /// A watcher's job was replaced by a new run under the same id (`run --replace`).
    case jobReplaced
    /// A configured limit was hit; retrying meets the same answer.
    case limit
    /// The server has all the connections it takes; retry later.
    case busy
    /// The server cannot store data now (disk full, I/O error); reconnect later.
    case storage
    /// No token, or a token the server does not know.
    case unauthorized
    /// The token lacks the role for this endpoint, or the request came from a page the server does not trust.
    case forbidden
    /// A code this version does not know (a newer server's): shown as it is, treated as final.
    case other(String)

    public static let known: [ErrorCode] = [
        .badMessage, .gap, .subprotocol, .unknownJob, .unknownStream, .jobConflict, .replaced, .jobEnded, .jobReplaced, .limit, .busy, .storage,
        .unauthorized, .forbidden,
    ]

    public var rawValue: String {
        switch self {
        case .badMessage: "bad_message"
        case .gap: "gap"
        case .subprotocol: "subprotocol"
        case .unknownJob: "unknown_job"
        case .unknownStream: "unknown_stream"
        case .jobConflict: "job_conflict"
        case .replaced: "replaced"
        case .jobEnded: "job_ended"
        case .jobReplaced: "job_replaced"
        case .limit: "limit"
        case .busy: "busy"
        case .storage: "storage"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .other(let code): code
        }
    }

    public init(rawValue: String) {
        self = Self.known.first { $0.rawValue == rawValue } ?? .other(rawValue)
    }

    /// The close code the server sends right after an `error` with this code.
    public var closeCode: UInt16 {
        switch self {
        case .badMessage, .other: 4000
        case .gap: 4001
        case .subprotocol: 4002
        case .unknownJob: 4004
        case .unknownStream: 4013
        case .jobConflict: 4009
        case .replaced: 4010
        case .jobEnded: 4011
        case .jobReplaced: 4012
        case .limit: 4029
        case .busy: 4429
        case .storage: 4503
        case .unauthorized: 4401
        case .forbidden: 4403
        }
    }

    /// True when reconnecting would only meet the same answer: an agent stops and keeps its spool, a
    /// watcher stops. `busy`, `storage` and `replaced` pass; so does a stale connection's `job_ended`,
    /// which a reconnect turns into a welcome with `ended`.
    public var isFinal: Bool {
        switch self {
        case .busy, .storage, .replaced, .jobEnded: false
        default: true
        }
    }
}

extension ErrorCode: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}

extension ErrorCode: CustomStringConvertible {
    public var description: String { self.rawValue }
}
