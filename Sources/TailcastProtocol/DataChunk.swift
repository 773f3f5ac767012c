import NIOCore

/// A run of bytes of one stream, placed by its byte offset in that stream.
public struct DataChunk: Equatable, Sendable {
    /// Stream id, as declared on this connection (`open` from agents, `stream` to watchers).
    public var stream: UInt32
    /// Offset in the stream of the first byte.
    public var offset: UInt64
    /// Unix time in milliseconds when the agent read the first byte.
    public var timeMs: UInt64
    public var bytes: ByteBuffer

    public init(stream: UInt32, offset: UInt64, timeMs: UInt64, bytes: ByteBuffer) {
        self.stream = stream
        self.offset = offset
        self.timeMs = timeMs
        self.bytes = bytes
    }

    /// Offset just past the last byte.
    public var endOffset: UInt64 { self.offset + UInt64(self.bytes.readableBytes) }
}
