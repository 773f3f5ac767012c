/// Eight bytes of a line tested at once (SWAR: subtractions that borrow into a byte's top bit). The line
/// scans ask "is any of these bytes X" far more often than "which one", and byte-at-a-time loops over
/// every line were about 15 % of `run`'s CPU at full speed (perf, 200 MiB through `run -- cat`). Each test
/// is exact for "any": a borrow only starts at a byte that matches.
struct ByteWord {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    private let bits: UInt64

    /// The eight bytes from `offset` on; the caller makes sure there are eight.
    init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    }

    /// Some byte is below `limit`, which is at most 128.
    func hasByte(below limit: UInt8) -> Bool {
        (self.bits &- Self.ones &* UInt64(limit)) & ~self.bits & Self.highs != 0
    }

    func contains(_ byte: UInt8) -> Bool {
        let zeroWhereEqual = self.bits ^ (Self.ones &* UInt64(byte))
        return (zeroWhereEqual &- Self.ones) & ~zeroWhereEqual & Self.highs != 0
    }
}
