import NIOCore

/// What a publishing node has yet to commit to the shared store, decided without I/O. It starts from the
/// committed end of every stream (read when the node took the job's lease), keeps the part of each chunk
/// past what is committed or already waiting, and hands out the waiting pieces to commit in order. The
/// agent's offsets are the key, so a resend of what any node committed before is dropped here, not archived twice.
struct CommitPlan {
    struct Piece: Equatable, Sendable {
        var stream: String
        var offset: UInt64
        var bytes: ByteBuffer
        var timeMs: UInt64

        var end: UInt64 { self.offset + UInt64(self.bytes.readableBytes) }
    }

    /// Per stream, the end of what the store holds.
    private(set) var committed: [String: UInt64]
    /// Per stream, the end of what is committed or waiting.
    private var accepted: [String: UInt64]
    private(set) var waiting: [Piece] = []

    init(committed: [String: UInt64]) {
        self.committed = committed
        self.accepted = committed
    }

    func committedEnd(_ stream: String) -> UInt64 { self.committed[stream] ?? 0 }

    var waitingBytes: Int { self.waiting.reduce(0) { $0 + $1.bytes.readableBytes } }

    /// Takes a chunk's new bytes. Throws `StreamFile.Gap` if it starts past what is held: committing it
    /// would leave a hole no reader could fill.
    mutating func add(stream: String, offset: UInt64, bytes: ByteBuffer, timeMs: UInt64) throws(StreamFile.Gap) {
        let held = self.accepted[stream] ?? 0
        guard offset <= held else { throw StreamFile.Gap(stream: stream, have: held, got: offset) }
        let end = offset + UInt64(bytes.readableBytes)
        guard end > held else { return }
        let skip = Int(held - offset)
        let fresh = bytes.getSlice(at: bytes.readerIndex + skip, length: bytes.readableBytes - skip)!
        self.waiting.append(Piece(stream: stream, offset: held, bytes: fresh, timeMs: timeMs))
        self.accepted[stream] = end
    }

    /// The oldest waiting pieces, up to `maxBytes` (at least one): one transaction's worth.
    func next(maxBytes: Int) -> ArraySlice<Piece> {
        var bytes = 0
        var count = 0
        for piece in self.waiting {
            if count > 0 && bytes + piece.bytes.readableBytes > maxBytes { break }
            bytes += piece.bytes.readableBytes
            count += 1
        }
        return self.waiting.prefix(count)
    }

    /// These pieces (from `next`) are committed. Pieces are told apart by where they end, so a commit that
    /// overlapped another (the paced ack and an `end`'s) drops each piece once.
    mutating func committed(_ pieces: ArraySlice<Piece>) {
        for piece in pieces {
            self.committed[piece.stream] = max(self.committed[piece.stream] ?? 0, piece.end)
        }
        self.waiting.removeAll { $0.end <= self.committed[$0.stream] ?? 0 }
    }
}
