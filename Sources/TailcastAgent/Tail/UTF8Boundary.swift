/// Where bytes can be cut without leaving a UTF-8 character in halves across two messages: a line cut
/// at `--max-line-bytes`, or a partial line sent after a quiet spell. Bytes that are not UTF-8 are
/// cut where asked.
enum UTF8Boundary {
    /// The length of the longest prefix of `bytes` that does not end inside a multi-byte sequence: the
    /// count, unless one of the last three bytes starts a sequence longer than what follows it.
    static func completePrefixLength<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Int where Bytes.Element == UInt8, Bytes.Index == Int {
        var index = bytes.endIndex
        while index > bytes.startIndex, bytes.endIndex - index < 3 {
            index -= 1
            let byte = bytes[index]
            guard byte & 0xC0 == 0x80 else {
                // The last byte that is not a continuation: ASCII, or the lead of a sequence.
                let length = byte >= 0xF0 && byte <= 0xF7 ? 4 : byte >= 0xE0 ? (byte <= 0xEF ? 3 : 1) : byte >= 0xC0 ? 2 : 1
                return index + length > bytes.endIndex ? index - bytes.startIndex : bytes.count
            }
        }
        return bytes.count
    }
}
