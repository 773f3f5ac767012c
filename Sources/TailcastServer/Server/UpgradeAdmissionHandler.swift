import Logging
import NIOCore
import NIOHTTP1

/// Refuses a WebSocket upgrade that `Admission` refuses with its HTTP status (401, 403) and reason, before
/// NIO's upgrader sees it: a refusal in hummingbird-websocket's `shouldUpgrade` can only become an empty
/// 400, which tells a browser or a third-party client nothing. Sits right after the HTTP request decoder.
final class UpgradeAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let admission: Admission
    private let logger: Logger
    /// After a refusal: the rest of the request is dropped while the connection closes.
    private var refused = false

    init(admission: Admission, logger: Logger) {
        self.admission = admission
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.refused { return }
        guard case .head(let head) = self.unwrapInboundIn(data),
            head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" })
        else {
            context.fireChannelRead(data)
            return
        }
        guard let role = Admission.role(forPath: head.uri),
            let refusal = self.admission.check(
                role: role, host: head.headers.first(name: "host"), origin: head.headers.first(name: "origin"),
                authorization: head.headers.first(name: "authorization"), cookie: head.headers.first(name: "cookie"))
        else {
            // The upgrade goes ahead: WebSocket frames, not HTTP parts, come next, and they are not ours.
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        self.refused = true
        Admission.log(refusal, path: head.uri, logger: self.logger)
        let body = context.channel.allocator.buffer(string: refusal.message + "\n")
        var headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close"),
        ])
        if let challenge = refusal.wwwAuthenticate { headers.add(name: "WWW-Authenticate", value: challenge) }
        let status = HTTPResponseStatus(statusCode: refusal.status)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        // The completion runs on this handler's event loop, where its context may be used.
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            // The upgrader after us never saw the request: told that input ended, it gives up quietly,
            // instead of failing on the close with an error hummingbird-websocket logs as one more line.
            loopBound.value.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            loopBound.value.close(promise: nil)
        }
    }
}
