import CTailcastSystem
import CompressNIO
import Foundation
import HTTPTypes
import NIOCore
import NIOWebSocket
import Testing
import WSCore

@testable import TailcastUplink

@Suite struct AdaptiveDeflateTests {
    func inflate(_ frames: [WebSocketFrame]) throws -> [String] {
        let receiver = try DeflateReceiver()
        return try frames.map { frame in
            #expect(frame.rsv1)
            return String(decoding: try receiver.inflate(Array(frame.data.readableBytesView)), as: UTF8.self)
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
        #expect(AdaptiveDeflateBuilder.level(forRate: 0, meanBytes: 5000) == TAILCAST_DEFLATE_OPTIMAL)
        #expect(AdaptiveDeflateBuilder.level(forRate: 0.49e6, meanBytes: 1024) == TAILCAST_DEFLATE_OPTIMAL)
        #expect(AdaptiveDeflateBuilder.level(forRate: 0.49e6, meanBytes: 1023) == 9)  // one line per message
        #expect(AdaptiveDeflateBuilder.level(forRate: 0, meanBytes: 0) == 9)
        #expect(AdaptiveDeflateBuilder.level(forRate: 0.5e6, meanBytes: 5000) == 9)
        #expect(AdaptiveDeflateBuilder.level(forRate: 7.9e6, meanBytes: 5000) == 9)
        #expect(AdaptiveDeflateBuilder.level(forRate: 8e6, meanBytes: 5000) == 6)
        #expect(AdaptiveDeflateBuilder.level(forRate: 31e6, meanBytes: 5000) == 6)
        #expect(AdaptiveDeflateBuilder.level(forRate: 32e6, meanBytes: 5000) == 2)
        #expect(AdaptiveDeflateBuilder.level(forRate: 1e9, meanBytes: 5000) == 2)
    }
}

/// The encoder of our own (`optimal_deflate.c`) behind `tailcast_deflater`, checked by another inflater
/// (CompressNIO's, as the server's permessage-deflate uses) on the log corpus, a binary, and every hand-over.
@Suite struct OptimalDeflateTests {
    static let corpus: [UInt8] = {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("../shared/corpus/logs").standardizedFileURL
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        return names.filter { $0.hasSuffix(".log") }.flatMap { name in
            (try? Data(contentsOf: directory.appendingPathComponent(name))).map { [UInt8]($0) } ?? []
        }
    }()

    /// Messages of `lines` lines each, as a flush window cuts them.
    static func messages(of bytes: [UInt8], lines: Int) -> [ArraySlice<UInt8>] {
        var messages: [ArraySlice<UInt8>] = []
        var start = 0
        var count = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            count += 1
            if count == lines {
                messages.append(bytes[start...index])
                start = index + 1
                count = 0
            }
        }
        if start < bytes.count { messages.append(bytes[start...]) }
        return messages
    }

    final class Deflater {
        let pointer: OpaquePointer
        init(level: Int32, windowBits: Int32 = 15) throws {
            self.pointer = try #require(tailcast_deflater_create(level, windowBits, 9))
        }
        deinit { tailcast_deflater_destroy(self.pointer) }

        /// One message as RFC 7692 sends it: the sync flush's 00 00 ff ff left off.
        func compress(_ message: ArraySlice<UInt8>) throws -> [UInt8] {
            let capacity = tailcast_deflater_bound(self.pointer, message.count)
            var output = [UInt8](repeating: 0, count: capacity)
            let count = message.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    tailcast_deflater_compress(self.pointer, input.baseAddress, input.count, out.baseAddress, out.count)
                }
            }
            try #require(count >= 0)
            return count >= 4 ? Array(output[..<(count - 4)]) : [0]
        }
    }

    @Test func corpusIsThere() {
        #expect(Self.corpus.count > 1_000_000)
    }

    @Test(arguments: [1, 10, 40, 400])
    func logMessagesInflateBackExactlyAndNeverFallBackToZlib(lines: Int) throws {
        let deflater = try Deflater(level: TAILCAST_DEFLATE_OPTIMAL)
        let receiver = try DeflateReceiver()
        for message in Self.messages(of: Self.corpus, lines: lines) {
            #expect(try receiver.inflate(deflater.compress(message)) == Array(message))
        }
        #expect(tailcast_deflater_fallbacks(deflater.pointer) == 0)
    }

    /// Every hand-over between the encoder and zlib (both ways), resets (no context takeover), empty
    /// messages, messages at and above the encoder's 65,535 bytes, binary bytes, and small windows. Sizes,
    /// levels and resets cycle through lists of co-prime lengths, so their combinations vary.
    @Test(arguments: [15, 12, 9] as [Int32])
    func handOversAndResetsKeepTheStreamExact(windowBits: Int32) throws {
        let binary = try [UInt8](Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[0])).prefix(2 << 20))
        let bytes = Array(Self.corpus.prefix(2 << 20)) + binary
        let sizes = [5000, 0, 1, 137, 70_000, 65_535, 4000, 65_536, 2, 300_000, 30_000]
        let levels: [Int32] = [TAILCAST_DEFLATE_OPTIMAL, 9, TAILCAST_DEFLATE_OPTIMAL, 6, TAILCAST_DEFLATE_OPTIMAL, 2, TAILCAST_DEFLATE_OPTIMAL]
        let deflater = try Deflater(level: TAILCAST_DEFLATE_OPTIMAL, windowBits: windowBits)
        let receiver = try DeflateReceiver(windowBits: windowBits)
        var position = 0
        var message = 0
        while position < bytes.count {
            if message % 3 == 0 {
                #expect(tailcast_deflater_set_level(deflater.pointer, levels[(message / 3) % levels.count]) == 0)
            }
            if message % 29 == 28 {
                #expect(tailcast_deflater_reset(deflater.pointer) == 0)
                try receiver.reset()
            }
            let piece = bytes[position..<min(bytes.count, position + sizes[message % sizes.count])]
            #expect(try receiver.inflate(deflater.compress(piece)) == Array(piece), "message \(message)")
            position += piece.count
            message += 1
        }
        #expect(message > 29)
        #expect(tailcast_deflater_fallbacks(deflater.pointer) == 0)
    }

    /// What the encoder is for: a chatty job's flush windows come out smaller than zlib's best makes them.
    @Test func fortyLineMessagesComeOutSmallerThanZlibLevelNine() throws {
        let messages = Self.messages(of: Self.corpus, lines: 40)
        let optimal = try Deflater(level: TAILCAST_DEFLATE_OPTIMAL)
        let zlib = try Deflater(level: 9)
        let ours = try messages.reduce(0) { $0 + (try optimal.compress($1).count) }
        let theirs = try messages.reduce(0) { $0 + (try zlib.compress($1).count) }
        #expect(Double(ours) < 0.95 * Double(theirs), "optimal \(ours) bytes, zlib level 9 \(theirs)")
    }
}

/// What a receiver does (RFC 7692 7.2.2): append 00 00 ff ff to each message and inflate, keeping the
/// window from message to message (CompressNIO's inflater, as the server's permessage-deflate uses).
final class DeflateReceiver {
    var decompressor: ZlibDecompressor
    let windowBits: Int32
    init(windowBits: Int32 = 15) throws {
        self.windowBits = windowBits
        self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: windowBits)
    }
    func reset() throws { self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: self.windowBits) }
    func inflate(_ message: [UInt8]) throws -> [UInt8] {
        var input = ByteBuffer(bytes: message + [0, 0, 0xFF, 0xFF])
        var output = ByteBufferAllocator().buffer(capacity: 4 << 20)
        try self.decompressor.inflate(from: &input, to: &output)
        return Array(output.readableBytesView)
    }
}
