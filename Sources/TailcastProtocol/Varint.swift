import NIOCore

/// Unsigned LEB128, as used in data messages: 7 bits a byte, low group first, high bit set on all but the last.
extension ByteBuffer {
    @inlinable
    public mutating func writeUVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.writeInteger(UInt8(value))
    }

    /// Reads one varint; nil (reader index unchanged) if the buffer ends inside it or it exceeds 64 bits.
    @inlinable
    public mutating func readUVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = self.readerIndex
        while let byte = self.getInteger(at: index, as: UInt8.self) {
            index += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                self.moveReaderIndex(to: index)
                return result
            }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}
