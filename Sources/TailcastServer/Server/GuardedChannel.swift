import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the server's child channel (HTTP/1 with WebSocket upgrade, maybe TLS): the connection layer in front of
/// the libraries, so that no connection outlives its use and the RFCs hold where the libraries do not check:
/// - every connection is counted when accepted (`AcceptGate`); one the gate refuses is closed at once;
/// - its first request head must be complete within `requestHeadTimeout` of the accept, and a WebSocket handshake
///   must be one RFC 6455 allows (`RequestHeadHandler`) and pass admission (`UpgradeAdmissionHandler`: host,
///   origin, token) before NIO's upgrader sees it;
/// - hummingbird-websocket 2.8.1 disables NIO's HTTP error handling and then neither answers nor closes when a
///   request head cannot be parsed (garbage, a header line without a colon, NUL bytes, oversized headers),
///   leaving the client hanging: we close on the parser's error, and after `handle`;
/// - once upgraded, every frame goes through `FrameValidatorHandler`;
/// - a peer that sends nothing for `idleTimeout` (a half-open connection) is closed; WebSocket peers answer pings
///   well within it.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        /// nil when the gate refused the connection: there is nothing to handle.
        let base: Base.Value?
        let channel: any Channel
    }

    let base: Base
    let idleTimeout: TimeAmount
    let requestHeadTimeout: TimeAmount
    let gate: AcceptGate
    let metrics: ConnectionMetrics
    let admission: Admission

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let headDeadline = NIODeadline.now() + self.requestHeadTimeout
        guard let id = self.gate.admit(channel, logger: logger) else {
            return channel.eventLoop.makeSucceededFuture(Value(base: nil, channel: channel))
        }
        do {
            try channel.pipeline.syncOperations.addHandlers(
                [IdleStateHandler(readTimeout: self.idleTimeout), CloseWhenIdle(timeout: self.idleTimeout)], position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let (gate, metrics) = (self.gate, self.metrics)
        return self.base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let requestDecoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let requestHead = RequestHeadHandler(deadline: headDeadline, onHead: { gate.headComplete(id) }, metrics: metrics, logger: logger)
            try operations.addHandler(requestHead, position: .after(requestDecoder))
            try operations.addHandler(UpgradeAdmissionHandler(admission: self.admission, logger: logger), position: .after(requestHead))
            try operations.addHandlers(CloseOnBadRequest(), FrameValidatorInstaller(metrics: metrics, logger: logger))
            return Value(base: value, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let base = value.base else { return }
        await self.base.handle(value: base, logger: logger)
        try? await value.channel.close()
    }
}

/// Closes the connection when `IdleStateHandler` says nothing was read for its timeout, unless it is a plain HTTP
/// response still being written: a Server-Sent Events stream or a long download reads nothing from its client
/// and writes at least every keep-alive interval. A WebSocket peer answers pings, so its silence always counts.
final class CloseWhenIdle: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var lastWrite: NIODeadline = .distantPast

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.lastWrite = .now()
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            let isWebSocket = (try? context.pipeline.syncOperations.handler(type: FrameValidatorHandler.self)) != nil
            if isWebSocket || NIODeadline.now() - self.lastWrite >= self.timeout { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Closes the connection when the HTTP parser gives up on a request head.
final class CloseOnBadRequest: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
