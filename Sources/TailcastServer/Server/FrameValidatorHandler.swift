import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Sits between NIO's WebSocket frame decoder and the WebSocket handler: fails the connection on a frame
/// `FrameValidator` refuses, before the libraries see it. It also logs, at info, every close frame the server
/// sends with an error code (1002, 1007, 1009, 1011...): the libraries log those failures at trace only. And
/// no frame goes out after a close frame (RFC 6455 5.5.1): the job writes batches to watchers at the live end
/// straight to the channel (`LiveWatchers`), and one may come in after the WebSocket handler has closed.
final class FrameValidatorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let metrics: ConnectionMetrics
    private let logger: Logger
    /// Set once this handler has failed the connection: later frames are dropped.
    private var failed = false
    /// Set once a close frame went out: later outbound frames are dropped.
    private var closeSent = false

    init(metrics: ConnectionMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.failed else { return }
        switch FrameValidator.check(self.unwrapInboundIn(data)) {
        case .pass:
            context.fireChannelRead(data)
        case .fail(let code, let reason):
            self.failed = true
            self.closeSent = true
            self.log(context, code, reason)
            var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
            payload.write(webSocketErrorCode: code)
            payload.writeString(reason)
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = self.unwrapOutboundIn(data)
        guard !self.closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        if frame.opcode == .connectionClose {
            self.closeSent = true
            if let code = frame.data.peekWebSocketErrorCode(), Self.isFailure(code) {
                self.log(context, code, String(decoding: frame.data.readableBytesView.dropFirst(2), as: UTF8.self))
            }
        }
        context.write(data, promise: promise)
    }

    private func log(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode, _ reason: String) {
        self.metrics.closed(.webSocketError)
        self.logger.info("closing a WebSocket from \(RequestHeadHandler.peer(context)) with \(UInt16(webSocketErrorCode: code)): \(reason.isEmpty ? Self.meaning(code) : reason)")
    }

    /// The codes that fail a connection (RFC 6455 7.4.1); tailcast's own 4xxx refusals are logged by the sessions.
    static func isFailure(_ code: WebSocketErrorCode) -> Bool {
        switch code {
        case .normalClosure, .goingAway, .unknown: false
        case .protocolError, .unacceptableData, .dataInconsistentWithMessage, .policyViolation, .messageTooLarge,
             .missingExtension, .unexpectedServerError: true
        }
    }

    static func meaning(_ code: WebSocketErrorCode) -> String {
        switch code {
        case .protocolError: "protocol error"
        case .dataInconsistentWithMessage: "invalid data (UTF-8)"
        case .messageTooLarge: "message too big"
        case .unexpectedServerError: "internal error"
        default: "error"
        }
    }
}

/// Puts a `FrameValidatorHandler` right after NIO's frame decoder when the connection upgrades to WebSocket
/// (the decoder exists only from then on, and no frame has been decoded yet), then leaves the pipeline.
final class FrameValidatorInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let metrics: ConnectionMetrics
    private let logger: Logger

    init(metrics: ConnectionMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is HTTPServerUpgradeEvents else { return context.fireUserInboundEventTriggered(event) }
        do {
            let operations = context.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
            try operations.addHandler(FrameValidatorHandler(metrics: self.metrics, logger: self.logger), position: .after(decoder))
        } catch {
            self.logger.error("could not check the frames of a WebSocket connection: \(error)")
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
