import Foundation
import CompressNIO
import Synchronization
import HTTPTypes
import NIOWebSocket
import WSCompression
import WSCore

/// swift-websocket's permessage-deflate for what clients send, and nothing of it for what the server sends:
/// - the server never compresses per connection. It imposes `server_no_context_takeover`, so every message it
///   sends stands alone, and data for watchers is deflated once per batch and the same bytes written to every
///   watcher (`PreparedBatch`); everything else goes uncompressed, which RFC 7692 allows. A compressor per
///   connection cost each watcher about 256 KiB and the server one compression per watcher per batch
///   (measured: p99 5.7 s at 500 watchers, 330 kB each). The library's compressor is still built, so it is
///   built as small as zlib allows (window 9, memory level 1) and never used;
/// - an offer that limits the server's window below 15 is declined: shared batches use the full window;
/// - the library's inflater (and its unused compressor) are built when a client first sends a compressed
///   frame: a watcher sends one small request, and both built at the upgrade cost every idle watcher 14 KiB
///   (measured with 1,000 idle watchers: 69 KiB each, 55 KiB with this);
/// and with changes for hostile peers:
/// - a message that inflates past the limit closes with 1009 (message too big), as RFC 6455 asks,
///   instead of 1011 (server error). The library stops inflating at the limit; we rename the error;
/// - data that does not inflate closes with 1002 (RFC 7692 §6.1: fail the connection), not 1011;
/// - an offer whose window bits zlib cannot use (outside 9-15) is declined: swift-websocket 1.6.2 traps
///   on values past Int32 (`server_max_window_bits=4294967296` killed the server) and CompressNIO
///   asserts below 9.
struct BoundedDeflateBuilder: WebSocketExtensionBuilder {
    static let name = "permessage-deflate"
    let inner: any WebSocketExtensionBuilder

    static func factory(maxDecompressedBytes: Int) -> WebSocketExtensionFactory {
        let inner = WebSocketExtensionFactory.perMessageDeflate(
            serverMaxWindow: 9, serverNoContextTakeover: true, memoryLevel: 1, maxDecompressedFrameSize: maxDecompressedBytes,
            minFrameSizeToCompress: .max)
        return WebSocketExtensionFactory { BoundedDeflateBuilder(inner: inner.build()) }
    }

    /// True when a request with these headers gets permessage-deflate: then data may be sent as prepared,
    /// deflated batches.
    static func negotiated(_ headers: HTTPFields, maxDecompressedBytes: Int) -> Bool {
        let builder = Self.factory(maxDecompressedBytes: maxDecompressedBytes).build()
        return builder.serverResponseHeader(to: WebSocketExtensionHTTPParameters.parseHeaders(headers)) != nil
    }

    func clientRequestHeader() -> String { self.inner.clientRequestHeader() }

    /// The library's answer without the window it was told to use for its unused compressor.
    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        guard Self.usable(request), let header = self.inner.serverReponseHeader(to: request) else { return nil }
        return header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("server_max_window_bits") }.joined(separator: "; ")
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard Self.usable(request) else { return nil }
        let inner = self.inner
        return BoundedInflate(name: Self.name, inner: LazyExtension { try inner.serverExtension(from: request) })
    }

    /// Window bits, when given as numbers, must be ones zlib takes; the server's must be 15 (see above).
    static func usable(_ request: WebSocketExtensionHTTPParameters) -> Bool {
        let client: Bool
        switch request.parameters["client_max_window_bits"] {
        case .none, .null: client = true
        case .value(let text): client = Int(text).map { (9...15).contains($0) } ?? false
        }
        switch request.parameters["server_max_window_bits"] {
        case .none: return client
        case .null: return false
        case .value(let text): return client && text == "15"
        }
    }

    func clientExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard let inner = try self.inner.clientExtension(from: request) else { return nil }
        return BoundedInflate(name: Self.name, inner: LazyExtension { inner })
    }
}

/// The library's extension, made when first needed.
final class LazyExtension: Sendable {
    private let make: @Sendable () throws -> (any WebSocketExtension)?
    private let made = Mutex<(any WebSocketExtension)?>(nil)

    init(_ make: @escaping @Sendable () throws -> (any WebSocketExtension)?) {
        self.make = make
    }

    var ifMade: (any WebSocketExtension)? { self.made.withLock { $0 } }

    func get() throws -> any WebSocketExtension {
        try self.made.withLock { made in
            if let made { return made }
            // Declined after its header was accepted: fail the connection (WSCore maps this error to 1002).
            guard let new = try self.make() else { throw NIOWebSocketError.fragmentedControlFrame }
            made = new
            return new
        }
    }
}

struct BoundedInflate: WebSocketExtension {
    let name: String
    let inner: LazyExtension

    /// permessage-deflate's bit, with or without its inflater made yet.
    var reservedBits: WebSocketFrame.ReservedBits { .rsv1 }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        // Until a compressed frame comes, frames pass as the library would pass uncompressed ones.
        guard frame.rsv1 || self.inner.ifMade != nil else { return frame }
        do {
            return try await self.inner.get().processReceivedFrame(frame, context: context)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw NIOWebSocketError.invalidFrameLength
        } catch is CompressNIOError {
            // WSCore maps this error to 1002 (protocol error); it has no public way to say 1007.
            throw NIOWebSocketError.fragmentedControlFrame
        }
    }

    /// Frames go out as they are: uncompressed, or a prepared batch already deflated (RSV1 set).
    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        frame
    }

    func shutdown() async { await self.inner.ifMade?.shutdown() }
}
