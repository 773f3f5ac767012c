import NIOCore

/// The last bytes appended to a stream, in memory, so that a batch at the live end is made without reading
/// the file: that read was a hop to NIO's thread pool per batch, most of the server's share of a line's
/// delay with `--flush-window-ms 0`. Bounded by `capacity`: past it the older half goes, so each byte is
/// moved at most once more. The file stays the truth; a read the tail cannot answer is a miss.
///
/// Its end is always the stream's size: an append that does not continue it (the tail was emptied, or
/// the stream is not watched) starts it anew there.
struct LiveTail {
    let capacity: Int
    /// Offset in the stream of the first byte held.
    private(set) var start: UInt64
    private var bytes = ByteBuffer()

    init(capacity: Int, end: UInt64) {
        self.capacity = capacity
        self.start = end
    }

    var end: UInt64 { self.start + UInt64(self.bytes.readableBytes) }
    var heldBytes: Int { self.bytes.readableBytes }

    /// `new` was written to the stream at `offset`.
    mutating func append(_ new: ByteBuffer, at offset: UInt64) {
        if offset != self.end { self.empty(at: offset) }
        self.bytes.writeImmutableBuffer(new)
        guard self.bytes.readableBytes > self.capacity else { return }
        let drop = self.bytes.readableBytes - self.capacity / 2
        self.bytes.moveReaderIndex(forwardBy: drop)
        self.bytes.discardReadBytes()
        self.start += UInt64(drop)
    }

    /// Lets go of every byte held; the tail goes on from `end`.
    mutating func empty(at end: UInt64) {
        self.bytes = ByteBuffer()
        self.start = end
    }

    /// A copy of up to `maxBytes` from `offset` to the end, or nil when the bytes at `offset` are not held
    /// (a copy: a slice would pin the whole buffer and make the next append copy it).
    func read(from offset: UInt64, maxBytes: Int) -> ByteBuffer? {
        guard offset >= self.start, offset <= self.end else { return nil }
        let skip = Int(offset - self.start)
        let count = min(maxBytes, self.bytes.readableBytes - skip)
        var copy = ByteBufferAllocator().buffer(capacity: count)
        copy.writeBytes(self.bytes.readableBytesView.dropFirst(skip).prefix(count))
        return copy
    }
}
