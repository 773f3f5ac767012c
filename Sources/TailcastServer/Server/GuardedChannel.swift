import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the server's child channel (HTTP/1 with WebSocket upgrade, maybe TLS) so that no connection
/// outlives its use:
/// - hummingbird-websocket 2.8.1 disables NIO's HTTP error handling and then neither answers nor
///   closes when a request head cannot be parsed (garbage, a header line without a colon, NUL bytes,
///   oversized headers), leaving the client hanging: we close on the parser's error, and after `handle`;
/// - a peer that sends nothing (a half-open connection, a slow-loris that never finishes its head) is
///   closed after `idleTimeout` without a byte; WebSocket peers answer pings well within it.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let idleTimeout: TimeAmount
    let admission: Admission
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandlers(
                [IdleStateHandler(readTimeout: self.idleTimeout), CloseWhenIdle()], position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return self.base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(
                UpgradeAdmissionHandler(admission: self.admission, logger: self.logger), position: .after(decoder))
            try channel.pipeline.syncOperations.addHandler(CloseOnBadRequest())
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.base.handle(value: value, logger: logger)
        try? await value.channel.close()
    }
}

/// Closes the connection when `IdleStateHandler` says nothing was read for its timeout.
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
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
