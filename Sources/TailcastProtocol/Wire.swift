/// Constants every tailcast peer agrees on. PROTOCOL.md is the normative description.
public enum Wire {
    /// The one WebSocket subprotocol this version speaks. A future incompatible version gets a new name.
    public static let subprotocol = "tailcast.v1"
    /// Path agents connect to.
    public static let publishPath = "/v1/publish"
    /// Path watchers connect to.
    public static let watchPath = "/v1/watch"
    /// Largest message (after decompression) either side accepts by default.
    public static let defaultMaxMessageBytes = 4 << 20
    /// Largest run of stream bytes an agent puts into one data message.
    public static let maxBatchBytes = 256 << 10
    /// A new timestamp mark is started when a read comes this long after the chunk's first byte.
    public static let timeMarkResolutionMs: UInt64 = 20
    /// First byte of every binary message: what follows.
    public static let dataMessageKind: UInt8 = 0x01
}

/// Application close codes (RFC 6455 reserves 4000-4999 for applications).
public enum CloseCode {
    /// Malformed control message, unknown type, or a message out of order.
    public static let badMessage: UInt16 = 4000
    /// The client did not offer the `tailcast.v1` subprotocol.
    public static let subprotocolRequired: UInt16 = 4002
    /// A data chunk starts beyond what the server holds: bytes would be missing.
    public static let gap: UInt16 = 4001
    /// No token, or a token the server does not know (`Authorization: Bearer TOKEN`).
    public static let unauthorized: UInt16 = 4401
    /// The token is valid but lacks the role for this path (a watch token cannot publish).
    public static let forbidden: UInt16 = 4403
    /// No such job.
    public static let unknownJob: UInt16 = 4004
    /// The job id belongs to another run.
    public static let jobConflict: UInt16 = 4009
    /// A newer connection of the same run took over.
    public static let replaced: UInt16 = 4010
    /// A configured limit was hit (streams or bytes per job, jobs): retrying meets the same answer.
    public static let limit: UInt16 = 4029
    /// The server has all the connections it takes (`serve --max-connections`): retry later.
    public static let busy: UInt16 = 4429
    /// The server cannot store data right now (disk full, I/O error).
    public static let storageUnavailable: UInt16 = 4503
}
