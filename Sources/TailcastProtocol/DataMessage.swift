import NIOCore

/// A binary message: kind byte 0x01, then one or more chunks, each
/// `uvarint stream, uvarint offset, uvarint time_ms, uvarint length, length bytes`.
public enum DataMessage {
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case empty
        case unknownKind(UInt8)
        case truncated
        case noChunks
        case streamIdTooLarge
        case offsetOverflow

        public var description: String {
            switch self {
            case .empty: "empty binary message"
            case .unknownKind(let kind): "unknown binary message kind \(kind)"
            case .truncated: "data message ends inside a chunk"
            case .noChunks: "data message holds no chunk"
            case .streamIdTooLarge: "stream id does not fit in 32 bits"
            case .offsetOverflow: "chunk ends past offset 2^64"
            }
        }
    }

    /// Starts a message in `buffer`; append chunks with `appendChunk`.
    public static func begin(into buffer: inout ByteBuffer) {
        buffer.writeInteger(Wire.dataMessageKind)
    }

    public static func appendChunk(
        stream: UInt32, offset: UInt64, timeMs: UInt64, bytes: ByteBuffer, into buffer: inout ByteBuffer
    ) {
        buffer.writeUVarint(UInt64(stream))
        buffer.writeUVarint(offset)
        buffer.writeUVarint(timeMs)
        buffer.writeUVarint(UInt64(bytes.readableBytes))
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    /// Bytes a chunk's header takes before its `length` bytes.
    public static func chunkHeaderSize(stream: UInt32, offset: UInt64, timeMs: UInt64, length: Int) -> Int {
        func size(_ value: UInt64) -> Int { max(1, (64 - value.leadingZeroBitCount + 6) / 7) }
        return size(UInt64(stream)) + size(offset) + size(timeMs) + size(UInt64(length))
    }

    public static func encode(_ chunks: [DataChunk], allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 1 + chunks.reduce(0) { $0 + $1.bytes.readableBytes + 24 })
        begin(into: &buffer)
        for chunk in chunks {
            appendChunk(stream: chunk.stream, offset: chunk.offset, timeMs: chunk.timeMs, bytes: chunk.bytes, into: &buffer)
        }
        return buffer
    }

    /// Decodes a whole message. Chunk bytes are slices of `message`: no copy.
    public static func decode(_ message: ByteBuffer) throws(DecodeError) -> [DataChunk] {
        var message = message
        guard let kind = message.readInteger(as: UInt8.self) else { throw .empty }
        guard kind == Wire.dataMessageKind else { throw .unknownKind(kind) }
        var chunks: [DataChunk] = []
        while message.readableBytes > 0 {
            guard let stream = message.readUVarint(),
                let offset = message.readUVarint(),
                let time = message.readUVarint(),
                let length = message.readUVarint(),
                length <= UInt64(message.readableBytes),
                let bytes = message.readSlice(length: Int(length))
            else { throw .truncated }
            guard stream <= UInt64(UInt32.max) else { throw .streamIdTooLarge }
            // Everything downstream adds length to offset.
            guard offset <= UInt64.max - length else { throw .offsetOverflow }
            chunks.append(DataChunk(stream: UInt32(stream), offset: offset, timeMs: time, bytes: bytes))
        }
        guard !chunks.isEmpty else { throw .noChunks }
        return chunks
    }
}
