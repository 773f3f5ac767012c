import NIOCore

/// A stream's time marks, as `NAME.idx` holds them: 16-byte little-endian records (offset, Unix ms),
/// each saying when the bytes from that offset on were read by the agent.
struct TimeMarks {
    struct Mark: Equatable {
        var offset: UInt64
        var timeMs: UInt64
    }

    static let recordSize: UInt64 = 16

    private(set) var marks: [Mark]

    /// The marks of an index file's bytes. A crash can leave a torn last record or marks past the data
    /// (`dataSize`): reading stops at the first such record.
    init(index: ByteBuffer, dataSize: UInt64) {
        var marks: [Mark] = []
        var reader = index
        while let offset = reader.readInteger(endianness: .little, as: UInt64.self),
            let time = reader.readInteger(endianness: .little, as: UInt64.self), offset < dataSize
        {
            if let last = marks.last, offset < last.offset { break }
            marks.append(Mark(offset: offset, timeMs: time))
        }
        self.marks = marks
    }

    /// Bytes of the index the marks come from; what follows is torn or stale.
    var indexSize: UInt64 { UInt64(self.marks.count) * Self.recordSize }

    static func record(_ mark: Mark) -> ByteBuffer {
        var record = ByteBuffer()
        record.writeInteger(mark.offset, endianness: .little)
        record.writeInteger(mark.timeMs, endianness: .little)
        return record
    }

    mutating func append(_ mark: Mark) { self.marks.append(mark) }

    /// When the byte at `offset` was read, and where the next mark starts (the chunk must end there).
    func timing(at offset: UInt64) -> (timeMs: UInt64, nextMark: UInt64?) {
        let low = self.marksStarting(atOrBefore: offset)
        let time = low > 0 ? self.marks[low - 1].timeMs : (self.marks.first?.timeMs ?? 0)
        let next = low < self.marks.count ? self.marks[low].offset : nil
        return (time, next)
    }

    /// Where, after `offset`, the first bytes read later than `timeMs` begin (nil: none are). Scans only
    /// the marks it passes, so replaying a stream piece by piece costs one pass over its marks.
    func firstOffset(after offset: UInt64, readAfter timeMs: UInt64) -> UInt64? {
        self.marks[self.marksStarting(atOrBefore: offset)...].first { $0.timeMs > timeMs }?.offset
    }

    /// How many marks start at or before `offset`: the index of the first mark after it.
    private func marksStarting(atOrBefore offset: UInt64) -> Int {
        var low = 0
        var high = self.marks.count
        while low < high {
            let mid = (low + high) / 2
            if self.marks[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// First offset whose bytes were read at or after `timeMs`, if any.
    func offset(sinceMs timeMs: UInt64) -> UInt64? {
        self.marks.first(where: { $0.timeMs >= timeMs })?.offset
    }
}
