import CompressNIO
import HTTPTypes
import NIOWebSocket
import WSCompression
import WSCore

/// swift-websocket's permessage-deflate, with changes for hostile peers:
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
        let inner = WebSocketExtensionFactory.perMessageDeflate(maxDecompressedFrameSize: maxDecompressedBytes, minFrameSizeToCompress: 16)
        return WebSocketExtensionFactory { BoundedDeflateBuilder(inner: inner.build()) }
    }

    func clientRequestHeader() -> String { self.inner.clientRequestHeader() }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        Self.usable(request) ? self.inner.serverReponseHeader(to: request) : nil
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard Self.usable(request) else { return nil }
        return try self.inner.serverExtension(from: request).map(BoundedInflate.init)
    }

    /// Window bits, when given as numbers, must be ones zlib takes.
    static func usable(_ request: WebSocketExtensionHTTPParameters) -> Bool {
        ["server_max_window_bits", "client_max_window_bits"].allSatisfy { name in
            switch request.parameters[name] {
            case .none, .null: true
            case .value(let text): Int(text).map { (9...15).contains($0) } ?? false
            }
        }
    }

    func clientExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try self.inner.clientExtension(from: request).map(BoundedInflate.init)
    }
}

struct BoundedInflate: WebSocketExtension {
    let inner: any WebSocketExtension

    var name: String { self.inner.name }
    var reservedBits: WebSocketFrame.ReservedBits { self.inner.reservedBits }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        do {
            return try await self.inner.processReceivedFrame(frame, context: context)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw NIOWebSocketError.invalidFrameLength
        } catch is CompressNIOError {
            // WSCore maps this error to 1002 (protocol error); it has no public way to say 1007.
            throw NIOWebSocketError.fragmentedControlFrame
        }
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try await self.inner.processFrameToSend(frame, context: context)
    }

    func shutdown() async { await self.inner.shutdown() }
}
