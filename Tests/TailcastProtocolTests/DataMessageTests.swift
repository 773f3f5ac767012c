import Foundation
import NIOCore
import Testing

@testable import TailcastProtocol

@Suite struct DataMessageTests {
    @Test func roundTripsChunksWithoutLosingBytes() throws {
        let chunks = [
            DataChunk(stream: 1, offset: 0, timeMs: 1_700_000_000_123, bytes: ByteBuffer(bytes: Array("hello\n".utf8))),
            DataChunk(stream: 2, offset: 1 << 40, timeMs: 5, bytes: ByteBuffer(bytes: [0, 0xFF, 0xC3, 0x0D, 0x0A])),
            DataChunk(stream: UInt32.max, offset: 3, timeMs: 0, bytes: ByteBuffer()),
        ]
        let decoded = try DataMessage.decode(DataMessage.encode(chunks))
        #expect(decoded == chunks)
        #expect(decoded[1].endOffset == (1 << 40) + 5)
    }

    /// The example in PROTOCOL.md, section 4.
    @Test func encodesTheDocumentedExample() {
        let message = DataMessage.encode([DataChunk(stream: 1, offset: 300, timeMs: 1_700_000_000_000, bytes: ByteBuffer(string: "hi\n"))])
        let hex = message.readableBytesView.map { String(format: "%02x", $0) }.joined(separator: " ")
        #expect(hex == "01 01 ac 02 80 d0 95 ff bc 31 03 68 69 0a")
    }

    @Test func rejectsMalformedMessagesWithAReason() {
        #expect(throws: DataMessage.DecodeError.empty) { try DataMessage.decode(ByteBuffer()) }
        #expect(throws: DataMessage.DecodeError.unknownKind(7)) { try DataMessage.decode(ByteBuffer(bytes: [7])) }
        #expect(throws: DataMessage.DecodeError.noChunks) { try DataMessage.decode(ByteBuffer(bytes: [1])) }
        // length 10 but only 2 bytes follow
        #expect(throws: DataMessage.DecodeError.truncated) {
            try DataMessage.decode(ByteBuffer(bytes: [1, 1, 0, 0, 10, 65, 66]))
        }
        // a varint that never ends
        #expect(throws: DataMessage.DecodeError.truncated) {
            try DataMessage.decode(ByteBuffer(bytes: [1] + Array(repeating: 0xFF, count: 12)))
        }
        // stream id above 32 bits
        var big = ByteBuffer(bytes: [1])
        big.writeUVarint(1 << 33)
        big.writeBytes([0, 0, 0])
        #expect(throws: DataMessage.DecodeError.streamIdTooLarge) { try DataMessage.decode(big) }
        // a chunk ending past 2^64 would overflow every offset + length downstream
        var overflow = ByteBuffer(bytes: [1, 1])
        overflow.writeUVarint(UInt64.max)
        overflow.writeBytes([0, 1, 65])
        #expect(throws: DataMessage.DecodeError.offsetOverflow) { try DataMessage.decode(overflow) }
    }

    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 1 << 35, UInt64.max])
    func varintRoundTrips(_ value: UInt64) {
        var buffer = ByteBuffer()
        buffer.writeUVarint(value)
        #expect(buffer.readUVarint() == value)
        #expect(buffer.readableBytes == 0)
    }
}
