import NIOCore
import TailcastProtocol

/// One `output` event, formatted once for every Server-Sent Events reader at the same place: the same
/// stream offset, and the same offsets of the job's other streams, which its `id:` holds as well. What
/// made an SSE reader cost three WebSocket watchers was each one validating and JSON-encoding the same
/// bytes for itself; now readers at the live edge share one event per batch, as watchers share one
/// deflated message.
struct PreparedEvent: SharedBatch, Equatable {
    /// The reader's position with this stream's offset blanked (`EventStreamPosition.blanking`).
    var audience: EventStreamPosition
    var stream: UInt32
    var from: UInt64
    var end: UInt64
    /// `event: output`, its `id:` and its `data:`, ready to write.
    var event: ByteBuffer

    var cost: Int { self.event.readableBytes }

    /// The event for the bytes of stream `name` from `from`, up to `end` or fewer (a character cut at `end`
    /// waits for the next event; see `ServerSentEvent.output`).
    static func make(
        _ audience: EventStreamPosition, stream id: UInt32, name: String, file: StreamFile, from: UInt64, end: UInt64
    ) throws -> PreparedEvent {
        let bytes = try file.read(from: from, maxBytes: Int(min(end - from, UInt64(Wire.maxBatchBytes))))
        let (data, count) = ServerSentEvent.output(stream: name, offset: from, bytes: bytes)
        var after = audience
        after.set(name, from + UInt64(count))
        return PreparedEvent(
            audience: audience, stream: id, from: from, end: from + UInt64(count), event: ServerSentEvent.event("output", id: after.id, data: data))
    }
}
