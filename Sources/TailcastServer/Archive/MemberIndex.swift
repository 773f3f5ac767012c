import NIOCore

/// Where each gzip member of a compressed stream starts. A finished stream is kept as `NAME.log.gz`,
/// independent gzip members of `memberBytes` of the stream each (the last one less), which `zcat` reads
/// as one file; beside it, `NAME.log.members` holds this index: 16-byte little-endian records (stream
/// offset, file offset), one per member and a last one for the end (stream size, file size). A read at
/// any offset inflates one member, found by binary search. No I/O here.
struct MemberIndex: Equatable {
    /// Stream bytes per member: small enough that a read near the end (`--tail`) inflates little,
    /// large enough that the members' headers and fresh dictionaries cost almost nothing.
    static let memberBytes = 1 << 20
    static let recordSize = 16

    struct Entry: Equatable {
        /// Stream offset the member starts at.
        var stream: UInt64
        /// Offset of the member in the `.gz` file.
        var file: UInt64
    }

    /// Every member's start, then the end.
    private(set) var entries: [Entry]

    init(entries: [Entry]) {
        precondition(!entries.isEmpty, "an index has at least its end")
        self.entries = entries
    }

    /// An index file's records; nil if they are torn or out of order (the file cannot be trusted).
    init?(encoded: ByteBuffer) {
        var reader = encoded
        guard reader.readableBytes % Self.recordSize == 0, reader.readableBytes >= Self.recordSize else { return nil }
        var entries: [Entry] = []
        while let stream = reader.readInteger(endianness: .little, as: UInt64.self),
            let file = reader.readInteger(endianness: .little, as: UInt64.self)
        {
            if let last = entries.last, stream <= last.stream || file <= last.file { return nil }
            entries.append(Entry(stream: stream, file: file))
        }
        guard entries.first == Entry(stream: 0, file: 0) || entries.count == 1 else { return nil }
        self.entries = entries
    }

    var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        for entry in self.entries {
            buffer.writeInteger(entry.stream, endianness: .little)
            buffer.writeInteger(entry.file, endianness: .little)
        }
        return buffer
    }

    /// The stream's size.
    var size: UInt64 { self.entries.last!.stream }
    /// The `.gz` file's size.
    var storedBytes: UInt64 { self.entries.last!.file }
    var memberCount: Int { self.entries.count - 1 }

    /// The member holding stream byte `offset`, nil past the end.
    func member(containing offset: UInt64) -> Int? {
        guard offset < self.size else { return nil }
        var low = 0
        var high = self.memberCount
        while high - low > 1 {
            let middle = (low + high) / 2
            if self.entries[middle].stream <= offset { low = middle } else { high = middle }
        }
        return low
    }

    /// Member `index`'s stream range and its place in the `.gz` file.
    func member(_ index: Int) -> (stream: Range<UInt64>, file: Range<UInt64>) {
        let (start, end) = (self.entries[index], self.entries[index + 1])
        return (start.stream..<end.stream, start.file..<end.file)
    }
}
