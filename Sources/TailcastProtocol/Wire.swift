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
