/// Where the lines of a stream begin, sparsely: how many line breaks come before each whole block of
/// `blockBytes`. A link to any line of a big log (`#L1234`) then reads at most two blocks, and a stream
/// costs 8 bytes of memory per MiB (800 bytes for a 100 MB log). Built on first use, block by block as far as
/// a question needs, and kept with the stream: its bytes are only ever appended, so the counts stay true.
struct LineIndex: Sendable, Equatable {
    static let blockBytes: UInt64 = 1 << 20

    /// Line breaks before block i, the first being 0.
    private var breaksBefore: [UInt64] = [0]
    /// Line breaks in the whole blocks indexed.
    private(set) var breaks: UInt64 = 0

    /// Bytes indexed: whole blocks from the start.
    var indexedBytes: UInt64 { UInt64(self.breaksBefore.count - 1) * Self.blockBytes }

    /// The next whole block, holding `breaks` line breaks, was counted.
    mutating func append(blockBreaks: UInt64) {
        self.breaks += blockBreaks
        self.breaksBefore.append(self.breaks)
    }

    /// Where to start counting to find line break number `n` (from 1), and how many come before there: the
    /// last indexed block with fewer than `n` before it. Past the indexed blocks when they hold fewer than `n`.
    func search(break n: UInt64) -> (offset: UInt64, before: UInt64) {
        // The first block with at least n before it; the one before it holds the n-th break.
        var low = 0
        var high = self.breaksBefore.count
        while low < high {
            let middle = (low + high) / 2
            if self.breaksBefore[middle] < n { low = middle + 1 } else { high = middle }
        }
        let block = low - 1
        return (UInt64(block) * Self.blockBytes, self.breaksBefore[block])
    }

    /// Line breaks in `bytes`.
    static func breaks(in bytes: UnsafeRawBufferPointer) -> UInt64 {
        var count: UInt64 = 0
        for byte in bytes where byte == 0x0A { count += 1 }
        return count
    }
}
