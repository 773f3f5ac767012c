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
    /// Ping idle connections this often, well inside the 60 s idle timeouts of common proxies.
    public var pingInterval: Duration
    /// Tokens and their roles; empty means no checks (loopback only, see `serve`).
    public var access: AccessTokens
    /// Serve wss:// and https:// when set.
    public var tls: TLSConfiguration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 7070,
        dataDirectory: String = "tailcast-data",
        maxMessageBytes: Int = Wire.defaultMaxMessageBytes,
        ackInterval: Duration = .milliseconds(200),
        maxStreamsPerJob: Int = 10_000,
        maxConnections: Int = 4096,
        connectionHeadroom: Int = 256,
        requestHeadTimeout: Duration = .seconds(10),
        maxJobs: Int = 100_000,
        maxJobBytes: UInt64 = 1 << 40,
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
        self.pingInterval = pingInterval
        self.access = access
        self.tls = tls
    }
}
