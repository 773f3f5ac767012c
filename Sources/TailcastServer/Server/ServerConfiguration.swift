#if canImport(Glibc)
import Glibc
#endif
import NIOSSL
import TailcastProtocol

/// Everything `tailcast serve` can be told.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Archive root.
    public var dataDirectory: String
    /// Largest message accepted, after decompression (bigger ones close with 1009).
    public var maxMessageBytes: Int
    /// At most one fsync and acknowledgement per agent per interval.
    public var ackInterval: Duration
    public var maxStreamsPerJob: Int
    /// WebSocket connections at once, agents and watchers together; more are told `busy` (4429).
    public var maxConnections: Int
    /// TCP connections accepted beyond `maxConnections`: room for handshakes, HTTP requests and `busy` refusals in
    /// progress. Every connection is counted when accepted, up to `maxConnections + connectionHeadroom`.
    public var connectionHeadroom: Int
    /// A connection's first request head must be complete this long after the accept (slow-loris), however it trickles.
    public var requestHeadTimeout: Duration
    /// Jobs the archive may hold; agents of new jobs are refused beyond it.
    public var maxJobs: Int
    /// Bytes one job may archive, all streams together.
    public var maxJobBytes: UInt64
    /// Descriptors the archive's stream files may hold at once (two per open stream), all jobs together.
    public var maxOpenFiles: Int
    /// Ping idle connections this often, well inside the 60 s idle timeouts of common proxies.
    public var pingInterval: Duration
    /// Tokens and their roles; empty means no checks (loopback only, see `serve`).
    public var access: AccessTokens
    /// Serve wss:// and https:// when set.
    public var tls: TLSConfiguration?
    /// Web page origins allowed besides the server's own (`serve --allow-origin`).
    public var allowedOrigins: [String] = []
    /// Answer requests sent to any host name even without tokens (`serve --insecure-listen-any`).
    public var anyHostWithoutTokens = false
    /// Finished jobs are removed this long after they finished (`serve --retain`); nil keeps them.
    public var retainMs: UInt64?
    /// Oldest finished jobs are removed while the archive's stream files take more on disk (`serve --max-archive-bytes`).
    public var maxArchiveBytes: UInt64?

    /// Who may send requests from a browser, and to which host names (see `RequestOriginGuard`).
    public var originGuard: RequestOriginGuard {
        RequestOriginGuard(allowedOrigins: self.allowedOrigins, loopbackHostsOnly: self.access.isEmpty && !self.anyHostWithoutTokens)
    }

    public init(
        host: String = "127.0.0.1",
        port: Int = 7070,
        dataDirectory: String = "tailcast-data",
        maxMessageBytes: Int = Wire.defaultMaxMessageBytes,
        ackInterval: Duration = .milliseconds(200),
        maxStreamsPerJob: Int = 2_048,
        maxConnections: Int = 4096,
        connectionHeadroom: Int = 256,
        requestHeadTimeout: Duration = .seconds(10),
        maxJobs: Int = 10_000,
        maxJobBytes: UInt64 = 1 << 40,
        maxOpenFiles: Int = ServerConfiguration.defaultMaxOpenFiles,
        pingInterval: Duration = .seconds(20),
        access: AccessTokens = AccessTokens(),
        tls: TLSConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.maxMessageBytes = maxMessageBytes
        self.ackInterval = ackInterval
        self.maxStreamsPerJob = maxStreamsPerJob
        self.maxConnections = maxConnections
        self.connectionHeadroom = connectionHeadroom
        self.requestHeadTimeout = requestHeadTimeout
        self.maxJobs = maxJobs
        self.maxJobBytes = maxJobBytes
        self.maxOpenFiles = maxOpenFiles
        self.pingInterval = pingInterval
        self.access = access
        self.tls = tls
    }

    /// The process's descriptor limit (`ulimit -n`), nil if unlimited.
    public static var descriptorLimit: Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur <= rlim_t(Int.max) else { return nil }
        return Int(limit.rlim_cur)
    }

    /// Half the descriptor limit, at most 4096: the other half is for connections and the server itself.
    public static var defaultMaxOpenFiles: Int {
        max(StreamFile.descriptorsPerStream, min(4096, (self.descriptorLimit ?? .max) / 2))
    }
}
