import Foundation

/// A place in a named stream.
public struct StreamPosition: Codable, Equatable, Sendable {
    public var name: String
    public var offset: UInt64
    public init(name: String, offset: UInt64) {
        self.name = name
        self.offset = offset
    }
}

/// Text messages: one JSON object each, told apart by its "type" member. Keys are snake_case.
public enum ControlMessage: Equatable, Sendable {
    // agent → server
    case hello(Hello)
    case open(Open)
    case end(End)
    /// agent → server: new state of some bars; server → watcher: every bar of the job.
    case progress(Progress)
    /// agent → server: the agent is going away on purpose and will continue the job later.
    case stop(Stop)
    // server → agent
    case welcome(Welcome)
    case ack(Ack)
    // watcher → server
    case watch(Watch)
    /// Asks for the jobs the server holds, a page at a time, instead of following one.
    case list(ListRequest)
    // server → watcher
    case job(JobInfo)
    /// The answer to `list`.
    case jobs(JobList)
    case stream(StreamAnnounce)
    case finished(Finished)
    case caughtUp(CaughtUp)
    // server → anyone, before closing
    case error(ErrorReport)

    public struct Hello: Codable, Equatable, Sendable {
        public var job: String
        /// Random per run of a job; a different run may not publish into the same job id.
        public var runId: String
        public var agent: String
        public var meta: JobMeta
        /// Start the job anew if another run of the same token holds it and has no agent connected (`run --replace`).
        public var replace: Bool?
        public init(job: String, runId: String, agent: String, meta: JobMeta, replace: Bool? = nil) {
            self.job = job
            self.runId = runId
            self.agent = agent
            self.meta = meta
            self.replace = replace
        }
    }

    public struct Progress: Codable, Equatable, Sendable {
        public var bars: [ProgressState]
        public init(bars: [ProgressState]) { self.bars = bars }
    }

    /// No members: the message itself says the agent stops cleanly, so the job shows `stopped`, not `lost`.
    public struct Stop: Codable, Equatable, Sendable {
        public init() {}
    }

    public struct Welcome: Codable, Equatable, Sendable {
        public var job: String
        /// Durable size of every stream the server already holds for this job.
        public var streams: [StreamInfo]
        /// True when the server already holds the job's end: nothing more is needed.
        public var ended: Bool
        public init(job: String, streams: [StreamInfo], ended: Bool) {
            self.job = job
            self.streams = streams
            self.ended = ended
        }
    }

    public struct Open: Codable, Equatable, Sendable {
        public var stream: UInt32
        public var name: String
        public init(stream: UInt32, name: String) {
            self.stream = stream
            self.name = name
        }
    }

    public struct Ack: Codable, Equatable, Sendable {
        /// Stream id (decimal string) → every byte below this offset is durable.
        public var offsets: [String: UInt64]
        /// True once the end (exit status) is durable too.
        public var ended: Bool
        public init(offsets: [String: UInt64], ended: Bool = false) {
            self.offsets = offsets
            self.ended = ended
        }
    }

    public struct End: Codable, Equatable, Sendable {
        public var exit: ExitStatus
        public var endedAtMs: UInt64
        /// Final size of every stream, by id: the server acknowledges the end only when it holds all of them.
        public var sizes: [String: UInt64]
        public init(exit: ExitStatus, endedAtMs: UInt64, sizes: [String: UInt64]) {
            self.exit = exit
            self.endedAtMs = endedAtMs
            self.sizes = sizes
        }
    }

    public struct Watch: Codable, Equatable, Sendable {
        public var job: String
        /// Keep the connection open and send new bytes as they arrive.
        public var follow: Bool
        /// Where to start, by stream name; streams not named start at 0 (or per tail_lines / since_ms).
        public var offsets: [StreamPosition]?
        /// Start each stream this many lines before its end.
        public var tailLines: UInt64?
        /// Start each stream at the first byte read at or after this Unix time (ms).
        public var sinceMs: UInt64?
        /// Only these streams (by name); all when absent.
        public var streams: [String]?
        public init(
            job: String, follow: Bool, offsets: [StreamPosition]? = nil, tailLines: UInt64? = nil, sinceMs: UInt64? = nil,
            streams: [String]? = nil
        ) {
            self.job = job
            self.follow = follow
            self.offsets = offsets
            self.tailLines = tailLines
            self.sinceMs = sinceMs
            self.streams = streams
        }
    }

    public struct StreamAnnounce: Codable, Equatable, Sendable {
        public var stream: UInt32
        public var name: String
        /// The offset of the first byte that will be sent for this stream.
        public var offset: UInt64
        public init(stream: UInt32, name: String, offset: UInt64) {
            self.stream = stream
            self.name = name
            self.offset = offset
        }
    }

    public struct Finished: Codable, Equatable, Sendable {
        public var exit: ExitStatus
        public var endedAtMs: UInt64
        public init(exit: ExitStatus, endedAtMs: UInt64) {
            self.exit = exit
            self.endedAtMs = endedAtMs
        }
    }

    public struct ListRequest: Codable, Equatable, Sendable {
        /// At most this many jobs (the server may send fewer: it also keeps a page under a byte budget).
        public var limit: Int?
        /// The `next` of the previous page: the jobs after it.
        public var after: String?
        public init(limit: Int? = nil, after: String? = nil) {
            self.limit = limit
            self.after = after
        }
    }

    public struct JobList: Codable, Equatable, Sendable {
        /// Oldest first.
        public var jobs: [JobInfo]
        /// Present when more jobs follow: pass it as `after` for the next page.
        public var next: String?
        public init(jobs: [JobInfo], next: String? = nil) {
            self.jobs = jobs
            self.next = next
        }
    }

    public struct CaughtUp: Codable, Equatable, Sendable {
        public var state: JobState
        public init(state: JobState) { self.state = state }
    }

    public struct ErrorReport: Codable, Equatable, Sendable {
        public var code: ErrorCode
        /// For people: what happened and what to do.
        public var message: String
        public init(code: ErrorCode, message: String) {
            self.code = code
            self.message = message
        }
    }

    public enum DecodeError: Error, CustomStringConvertible {
        case notJSONObject(String)
        case unknownType(String)
        case invalid(type: String, detail: String)

        public var description: String {
            switch self {
            case .notJSONObject(let detail): "control message is not a JSON object with a \"type\": \(detail)"
            case .unknownType(let type): "unknown control message type \"\(type)\""
            case .invalid(let type, let detail): "invalid \"\(type)\" message: \(detail)"
            }
        }
    }

    public var typeName: String {
        switch self {
        case .hello: "hello"
        case .open: "open"
        case .end: "end"
        case .progress: "progress"
        case .stop: "stop"
        case .welcome: "welcome"
        case .ack: "ack"
        case .watch: "watch"
        case .list: "list"
        case .jobs: "jobs"
        case .job: "job"
        case .stream: "stream"
        case .finished: "finished"
        case .caughtUp: "caught_up"
        case .error: "error"
        }
    }
}

extension ControlMessage {
    private struct TypeOnly: Decodable { var type: String }
    private struct Typed<Payload: Encodable>: Encodable {
        var type: String
        var payload: Payload
        enum CodingKeys: CodingKey { case type }
        func encode(to encoder: any Encoder) throws {
            // Both containers write into the same JSON object.
            try self.payload.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.type, forKey: .type)
        }
    }

    /// JSON text for a WebSocket text message.
    public func encoded() -> String {
        let encoder = ProtocolJSON.makeEncoder()
        func text(_ payload: some Encodable) -> String {
            // Encoding these plain structs cannot fail.
            let data = try! encoder.encode(Typed(type: self.typeName, payload: payload))
            return String(decoding: data, as: UTF8.self)
        }
        switch self {
        case .hello(let m): return text(m)
        case .open(let m): return text(m)
        case .end(let m): return text(m)
        case .progress(let m): return text(m)
        case .stop(let m): return text(m)
        case .welcome(let m): return text(m)
        case .ack(let m): return text(m)
        case .watch(let m): return text(m)
        case .list(let m): return text(m)
        case .jobs(let m): return text(m)
        case .job(let m): return text(m)
        case .stream(let m): return text(m)
        case .finished(let m): return text(m)
        case .caughtUp(let m): return text(m)
        case .error(let m): return text(m)
        }
    }

    public static func decode(_ text: String) throws(DecodeError) -> ControlMessage {
        let data = Data(text.utf8)
        let decoder = ProtocolJSON.makeDecoder()
        let type: String
        do {
            type = try decoder.decode(TypeOnly.self, from: data).type
        } catch {
            throw .notJSONObject(Self.describe(error, decoding: TypeOnly.self, from: data))
        }
        func payload<T: Decodable>(_: T.Type) throws(DecodeError) -> T {
            do {
                return try decoder.decode(T.self, from: data)
            } catch {
                throw .invalid(type: type, detail: Self.describe(error, decoding: T.self, from: data))
            }
        }
        switch type {
        case "hello": return .hello(try payload(Hello.self))
        case "open": return .open(try payload(Open.self))
        case "end": return .end(try payload(End.self))
        case "progress": return .progress(try payload(Progress.self))
        case "stop": return .stop(try payload(Stop.self))
        case "welcome": return .welcome(try payload(Welcome.self))
        case "ack": return .ack(try payload(Ack.self))
        case "watch": return .watch(try payload(Watch.self))
        case "list": return .list(try payload(ListRequest.self))
        case "jobs": return .jobs(try payload(JobList.self))
        case "job": return .job(try payload(JobInfo.self))
        case "stream": return .stream(try payload(StreamAnnounce.self))
        case "finished": return .finished(try payload(Finished.self))
        case "caught_up": return .caughtUp(try payload(CaughtUp.self))
        case "error": return .error(try payload(ErrorReport.self))
        default: throw .unknownType(String(type.prefix(64)))
        }
    }

    /// A short reason a peer can act on, naming the member as it is on the wire (`ended_at_ms`,
    /// `bars[0].current`), instead of Foundation's long error dump with Swift's names.
    static func describe<T: Decodable>(_ error: any Error, decoding _: T.Type, from data: Data) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \"\(ProtocolJSON.wirePath(context.codingPath + [key]))\""
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\"\(ProtocolJSON.wirePath(context.codingPath))\" must be \(ProtocolJSON.expected(type))"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            guard let member = ProtocolJSON.outOfRangeMember(T.self, in: data) else {
                // Valid JSON the decoder still refuses: a number out of range that could not be pinned down.
                guard (try? JSONSerialization.jsonObject(with: data)) != nil else { return "not valid JSON" }
                return "a number is out of range for its member, or not a whole number where one is needed"
            }
            return "\"\(member)\" is out of range for it, or not a whole number where one is needed"
        case .dataCorrupted(let context):
            // Foundation says so for a number its type cannot hold (2^32 for a stream id, -1 for an offset).
            return "\"\(ProtocolJSON.wirePath(context.codingPath))\" is out of range or not a valid value"
        @unknown default:
            return "\(error)"
        }
    }
}

/// JSON with the protocol's conventions, for the HTTP API and files.
/// Foundation applies key strategies to dictionary keys too, so maps in the protocol are keyed only by
/// decimal stream ids (which snake-casing leaves alone); anything keyed by name is an array.
public enum ProtocolJSON {
    public static func makeEncoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    public static func encode(_ value: some Encodable, pretty: Bool = false) throws -> Data {
        try makeEncoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try makeDecoder().decode(type, from: data)
    }

    /// A coding path as the wire spells it: snake_case members, `[i]` for array elements.
    static func wirePath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += self.snakeCase(key.stringValue)
            }
        }
        return text
    }

    /// `endedAtMs` → `ended_at_ms`: what `convertFromSnakeCase` made of a wire name, undone.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                if !out.isEmpty { out += "_" }
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// What a member of this Swift type is on the wire.
    static func expected(_ type: Any.Type) -> String {
        switch type {
        case is UInt32.Type: "a whole number from 0 to 4294967295"
        case is UInt64.Type, is UInt.Type: "a whole number from 0 to 2^64-1"
        case is Int32.Type: "a whole number from -2147483648 to 2147483647"
        case is Int.Type, is Int64.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
