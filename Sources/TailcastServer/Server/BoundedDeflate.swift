import CompressNIO
import HTTPTypes
import NIOWebSocket
import WSCompression
import WSCore

/// swift-websocket's permessage-deflate, with one change: a message that inflates past the limit closes
/// the connection with 1009 (message too big), as RFC 6455 asks, instead of 1011 (server error), which
/// tells a client the fault is ours. The library stops inflating at the limit; we only rename the error.
struct BoundedDeflateBuilder: WebSocketExtensionBuilder {
    static let name = "permessage-deflate"
    let inner: any WebSocketExtensionBuilder

    static func factory(maxDecompressedBytes: Int) -> WebSocketExtensionFactory {
        let inner = WebSocketExtensionFactory.perMessageDeflate(maxDecompressedFrameSize: maxDecompressedBytes, minFrameSizeToCompress: 16)
        return WebSocketExtensionFactory { BoundedDeflateBuilder(inner: inner.build()) }
    }

    func clientRequestHeader() -> String { self.inner.clientRequestHeader() }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        self.inner.serverReponseHeader(to: request)
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try self.inner.serverExtension(from: request).map(BoundedInflate.init)
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
        }
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try await self.inner.processFrameToSend(frame, context: context)
    }

    func shutdown() async { await self.inner.shutdown() }
}
