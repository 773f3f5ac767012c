import Logging
import NIOCore
import NIOHTTP1

/// Sits right after the HTTP request decoder and sees a connection's first request head before anything else:
/// - the head must be complete by `deadline` (set at the accept): a trickle of bytes does not move it, so a
///   slow-loris is closed like a silent connection, with `408`;
/// - a WebSocket handshake that `HandshakeCheck` refuses is answered here with its HTTP status and closed;
/// - `AcceptGate` evicts a connection still waiting for its head through `Evict`.
/// Once the head has passed, it tells `onHead` (the connection is no longer evicted to make room) and leaves the pipeline.
final class RequestHeadHandler: ChannelInboundHandler, RemovableChannelHandler {
    /// Close this connection if it is still waiting for its request head (fired into the pipeline by `AcceptGate`).
    struct Evict: Sendable {}

    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let deadline: NIODeadline
    private let onHead: @Sendable () -> Void
    private let metrics: ConnectionMetrics
    private let logger: Logger
    private var timer: Scheduled<Void>?
    /// Set once this handler has answered: the rest of the request is dropped.
    private var answered = false

    init(deadline: NIODeadline, onHead: @escaping @Sendable () -> Void, metrics: ConnectionMetrics, logger: Logger) {
        self.deadline = deadline
        self.onHead = onHead
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: self.deadline) {
            guard !self.answered else { return }
            self.metrics.closed(.requestHeadTimeout)
            self.logger.info("closed a connection from \(Self.peer(context)): no complete request head in time (request head timeout)")
            self.close(context, answering: (.requestTimeout, "the request head did not arrive in time"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Evict else { return context.fireUserInboundEventTriggered(event) }
        if !self.answered { self.close(context, answering: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.answered else { return }
        guard case .head(let head) = self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        self.timer?.cancel()
        self.onHead()
        switch HandshakeCheck.check(head) {
        case .notWebSocket, .pass:
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .refuse(let status, let reason):
            self.metrics.closed(.badHandshake)
            self.logger.info("refused a WebSocket handshake from \(Self.peer(context)): \(status.code) \(reason)")
            self.close(context, answering: (status, reason))
        }
    }

    /// Answers with a status and one line, if given, then closes. A `426` names the version this server speaks.
    private func close(_ context: ChannelHandlerContext, answering answer: (status: HTTPResponseStatus, reason: String)?) {
        self.answered = true
        self.timer?.cancel()
        if let answer {
            let body = context.channel.allocator.buffer(string: answer.reason + "\n")
            var headers = HTTPHeaders([
                ("Connection", "close"), ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.readableBytes)"),
            ])
            if answer.status == .upgradeRequired { headers.add(name: "Sec-WebSocket-Version", value: HandshakeCheck.version) }
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
        // The upgrade handler after us is told that no request is coming, as when a peer goes away: a connection
        // closed under it instead is logged by hummingbird-websocket as an error.
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        // Closed without waiting for the write: a peer that reads nothing (or never finishes its TLS handshake)
        // must not hold the place; a short answer, once flushed, is in the kernel already.
        context.close(promise: nil)
    }

    static func peer(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress?.description ?? "?"
    }
}
