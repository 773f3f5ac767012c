/// What an agent says about the job it publishes; stored with the job and shown by `ls`.
public struct JobMeta: Codable, Equatable, Sendable {
    /// "run" for a wrapped command, "tail" for a sidecar tailing files.
    public var kind: String
    public var command: [String]
    public var host: String
    public var user: String
    public var cwd: String?
    public var pid: Int32?
    public var pty: Bool?
    public var startedAtMs: UInt64

    public init(
        kind: String, command: [String], host: String, user: String, cwd: String? = nil, pid: Int32? = nil,
        pty: Bool? = nil, startedAtMs: UInt64
    ) {
        self.kind = kind
        self.command = command
        self.host = host
        self.user = user
        self.cwd = cwd
        self.pid = pid
        self.pty = pty
        self.startedAtMs = startedAtMs
    }
}

/// How a job ended: exactly one of `code` (normal exit) and `signal` (killed) is set.
public struct ExitStatus: Codable, Equatable, Sendable {
    public var code: Int32?
    public var signal: Int32?

    public init(code: Int32? = nil, signal: Int32? = nil) {
        self.code = code
        self.signal = signal
    }

    /// The status a shell reports: the code, or 128+N for signal N (values come from a peer: never trap).
    public var shellStatus: Int32 {
        if let code { return code & 0xFF }
        if let signal, (1..<128).contains(signal) { return 128 + signal }
        return 1
    }

    public var description: String {
        if let code { return "exited \(code)" }
        if let signal { return "killed by signal \(signal)" }
        return "ended"
    }
}

public enum JobState: String, Codable, Sendable {
    /// An agent is connected and publishing.
    case running
    /// The agent reported the exit status and every byte is archived.
    case exited
    /// Not ended, and no agent is connected: it may come back and resume.
    case lost
    /// Not ended, and its agent said it stopped on purpose (`stop`: a sidecar shut down cleanly); the
    /// same run continues it when it starts again.
    case stopped
}

public struct StreamInfo: Codable, Equatable, Sendable {
    public var name: String
    /// Bytes archived (and acknowledged to the agent).
    public var size: UInt64

    public init(name: String, size: UInt64) {
        self.name = name
        self.size = size
    }
}

/// A job as the server knows it: returned by `GET /v1/jobs`, sent to watchers in `job`.
public struct JobInfo: Codable, Equatable, Sendable {
    public var id: String
    public var meta: JobMeta
    public var state: JobState
    public var exit: ExitStatus?
    public var endedAtMs: UInt64?
    public var lastSeenMs: UInt64
    public var streams: [StreamInfo]
    /// The latest state of every progress bar, explicit ones first.
    public var progress: [ProgressState]

    public init(
        id: String, meta: JobMeta, state: JobState, exit: ExitStatus? = nil, endedAtMs: UInt64? = nil,
        lastSeenMs: UInt64, streams: [StreamInfo], progress: [ProgressState] = []
    ) {
        self.id = id
        self.meta = meta
        self.state = state
        self.exit = exit
        self.endedAtMs = endedAtMs
        self.lastSeenMs = lastSeenMs
        self.streams = streams
        self.progress = progress
    }

    public var bytes: UInt64 { self.streams.reduce(0) { $0 + $1.size } }

    private enum CodingKeys: String, CodingKey {
        case id, meta, state, exit, endedAtMs, lastSeenMs, streams, progress
    }

    /// `progress` came after version 0.1.0's archives were written: absent means none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decode(String.self, forKey: .id)
        self.meta = try container.decode(JobMeta.self, forKey: .meta)
        self.state = try container.decode(JobState.self, forKey: .state)
        self.exit = try container.decodeIfPresent(ExitStatus.self, forKey: .exit)
        self.endedAtMs = try container.decodeIfPresent(UInt64.self, forKey: .endedAtMs)
        self.lastSeenMs = try container.decode(UInt64.self, forKey: .lastSeenMs)
        self.streams = try container.decode([StreamInfo].self, forKey: .streams)
        self.progress = try container.decodeIfPresent([ProgressState].self, forKey: .progress) ?? []
    }
}
