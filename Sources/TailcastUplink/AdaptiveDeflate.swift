import CTailcastSystem
import NIOCore
import NIOWebSocket
import Synchronization
import WSCompression
import WSCore

/// permessage-deflate for the uplink, with a compression level that follows the data rate.
///
/// Why not swift-websocket's extension alone: its level is fixed per connection. Measured on the corpus
/// (Benchmarks/run), a 2,000 lines/s job sends ~40-line batches; at level 6 they reach 0.89 of gzip -6's
/// ratio, at level 9 with memLevel 9 about 0.97. But level 9 deflates at ~38 MB/s on this machine, below
/// the 50 MB/s a fast job needs, where batches are large and level 6 loses nothing. So below 8 MB/s
/// (where level 9 costs at most a fifth of a core) messages get level 9, above it level 6, and above
/// 32 MB/s level 2: level 6 deflates at ~74 MB/s and was 61% of the agent's CPU at full speed (perf,
/// `run -- cat` of 100 MiB), where level 2 runs at ~200 MB/s and keeps 0.83 of level 6's ratio (the
/// corpus in 256 KiB pieces). Levels are switched with zlib's deflateParams between messages (context
/// takeover is kept). Receiving (the server's small acks) stays with the library's extension.
///
/// Below 0.5 MB/s, messages of 1 KiB and more (a chatty job's flush windows) get an encoder of our own
/// (`optimal_deflate.c`): 40-line messages of the corpus come out 7% smaller than zlib's level 9 makes
/// them, which is what lifts the default's wire ratio past gzip -6 of the whole file; it deflates at
/// ~6 MB/s, so at 0.5 MB/s it costs a tenth of a core at most. One-line messages (low latency) gain
/// under 2% from it and stay with zlib.
struct AdaptiveDeflateBuilder: WebSocketExtensionBuilder {
    static let name = "permessage-deflate"
    /// The level for messages arriving at `bytesPerSecond`, `meanBytes` long on average.
    static func level(forRate bytesPerSecond: Double, meanBytes: Double) -> Int32 {
        switch bytesPerSecond {
        case ..<0.5e6 where meanBytes >= 1024: TAILCAST_DEFLATE_OPTIMAL
        case ..<8e6: 9
        case ..<32e6: 6
        default: 2
        }
    }

    let inner: any WebSocketExtensionBuilder

    init(maxDecompressedBytes: Int) {
        self.inner = WebSocketExtensionFactory.perMessageDeflate(maxDecompressedFrameSize: maxDecompressedBytes).build()
    }

    static func factory(maxDecompressedBytes: Int) -> WebSocketExtensionFactory {
        WebSocketExtensionFactory { AdaptiveDeflateBuilder(maxDecompressedBytes: maxDecompressedBytes) }
    }

    func clientRequestHeader() -> String { self.inner.clientRequestHeader() }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        self.inner.serverReponseHeader(to: request)
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try self.inner.serverExtension(from: request)
    }

    func clientExtension(from response: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard let receiving = try self.inner.clientExtension(from: response) else { return nil }
        let windowBits = Int32(response.parameters["client_max_window_bits"]?.integer ?? 15)
        return try AdaptiveDeflate(
            receiving: receiving,
            windowBits: min(15, max(9, windowBits)),
            noContextTakeover: response.parameters["client_no_context_takeover"] != nil
        )
    }
}

final class AdaptiveDeflate: WebSocketExtension {
    struct CompressorUnavailable: Error {}

    /// zlib state is not thread-safe; frames of one connection are sent one at a time, the lock only
    /// makes that explicit to the compiler.
    final class Compressor: @unchecked Sendable {
        let deflater: OpaquePointer
        /// Smoothed bytes per second of what was sent, smoothed message size, and when the last message started.
        var rate = 0.0
        var meanBytes = 0.0
        var lastMessage: ContinuousClock.Instant?
        init(windowBits: Int32) throws {
            guard let deflater = tailcast_deflater_create(AdaptiveDeflateBuilder.level(forRate: 0, meanBytes: 0), windowBits, 9) else {
                throw CompressorUnavailable()
            }
            self.deflater = deflater
        }
        deinit { tailcast_deflater_destroy(self.deflater) }
    }

    let receiving: any WebSocketExtension
    let noContextTakeover: Bool
    let compressor: Mutex<Compressor>

    init(receiving: any WebSocketExtension, windowBits: Int32, noContextTakeover: Bool) throws {
        self.receiving = receiving
        self.noContextTakeover = noContextTakeover
        self.compressor = Mutex(try Compressor(windowBits: windowBits))
    }

    var name: String { AdaptiveDeflateBuilder.name }
    var reservedBits: WebSocketFrame.ReservedBits { .rsv1 }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try await self.receiving.processReceivedFrame(frame, context: context)
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try self.compress(frame)
    }

    func compress(_ frame: WebSocketFrame) throws -> WebSocketFrame {
        guard frame.opcode == .text || frame.opcode == .binary || frame.opcode == .continuation else { return frame }
        return try self.compressor.withLock { compressor in
            var frame = frame
            let first = frame.opcode != .continuation
            if first {
                let now = ContinuousClock.now
                if let last = compressor.lastMessage {
                    let seconds = max(0.001, Double((now - last).components.attoseconds) / 1e18 + Double((now - last).components.seconds))
                    compressor.rate = 0.7 * compressor.rate + 0.3 * Double(frame.data.readableBytes) / seconds
                }
                compressor.lastMessage = now
                compressor.meanBytes = 0.7 * compressor.meanBytes + 0.3 * Double(frame.data.readableBytes)
                let level = AdaptiveDeflateBuilder.level(forRate: compressor.rate, meanBytes: compressor.meanBytes)
                _ = tailcast_deflater_set_level(compressor.deflater, level)
            }
            let input = frame.data
            let capacity = tailcast_deflater_bound(compressor.deflater, input.readableBytes)
            var output = ByteBufferAllocator().buffer(capacity: capacity)
            let written = try input.withUnsafeReadableBytes { raw -> Int in
                try output.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { out in
                    let n = tailcast_deflater_compress(
                        compressor.deflater, raw.bindMemory(to: UInt8.self).baseAddress, raw.count,
                        out.bindMemory(to: UInt8.self).baseAddress, out.count)
                    guard n >= 0 else { throw CompressorUnavailable() }
                    return n
                }
            }
            // RFC 7692 7.2.1: the message's compressed data ends without the sync flush's 00 00 ff ff.
            // zlib emits nothing for an empty message right after a flush; RFC 7692 7.2.3.6 sends 0x00 then.
            if written == 0 {
                if frame.fin { output.writeInteger(UInt8(0)) }
            } else if frame.fin {
                output.moveWriterIndex(to: written - 4)
            }
            frame.data = output
            frame.rsv1 = first
            if frame.fin && self.noContextTakeover { _ = tailcast_deflater_reset(compressor.deflater) }
            return frame
        }
    }

    func shutdown() async { await self.receiving.shutdown() }
}
