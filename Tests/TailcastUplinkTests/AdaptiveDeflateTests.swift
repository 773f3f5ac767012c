import CompressNIO
import HTTPTypes
import NIOCore
import NIOWebSocket
import Testing
import WSCore

@testable import TailcastUplink

@Suite struct AdaptiveDeflateTests {
    /// What a receiver does (RFC 7692 7.2.2): append 00 00 ff ff to each message and inflate, keeping the window.
    func inflate(_ frames: [WebSocketFrame]) throws -> [String] {
        let decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        return try frames.map { frame in
            #expect(frame.rsv1)
            var input = frame.data
            input.writeBytes([0, 0, 0xFF, 0xFF])
            var output = ByteBufferAllocator().buffer(capacity: 4 << 20)
            try decompressor.inflate(from: &input, to: &output)
            return String(buffer: output)
        }
    }

    @Test func messagesSurviveLevelChangesWithContextTakeover() throws {
        let response = try #require(WebSocketExtensionHTTPParameters.parseHeaders([.secWebSocketExtensions: "permessage-deflate"]).first)
        let receiving = try #require(try AdaptiveDeflateBuilder(maxDecompressedBytes: 1 << 20).inner.clientExtension(from: response))
        let deflate = try AdaptiveDeflate(receiving: receiving, windowBits: 15, noContextTakeover: false)
        var texts: [String] = []
        // small and slow: level 9; then large back to back: the rate passes 8 and 32 MB/s, the level drops to 6 and 2
        for i in 0..<3 { texts.append("line \(i) the same words again and again\n") }
        for i in 0..<6 { texts.append(String(repeating: "big batch \(i) of log lines\n", count: 40_000)) }
        texts.append("")
        texts.append("a last small one\n")
        var frames: [WebSocketFrame] = []
        for text in texts {
            frames.append(try deflate.compress(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(string: text))))
        }
        #expect(try inflate(frames) == texts)
        // context takeover: a repeat of an earlier message costs a few bytes
        #expect(frames[1].data.readableBytes < 20)
    }

    @Test func theLevelFallsAsTheRateRises() {
        #expect(AdaptiveDeflateBuilder.level(forRate: 0) == 9)
        #expect(AdaptiveDeflateBuilder.level(forRate: 7.9e6) == 9)
        #expect(AdaptiveDeflateBuilder.level(forRate: 8e6) == 6)
        #expect(AdaptiveDeflateBuilder.level(forRate: 31e6) == 6)
        #expect(AdaptiveDeflateBuilder.level(forRate: 32e6) == 2)
        #expect(AdaptiveDeflateBuilder.level(forRate: 1e9) == 2)
    }
}
