import Logging
import NIOWebSocket
import TailcastProtocol
import WSCore

extension WebSocketOutboundWriter {
    /// Says why in an `error` message a client can show, then closes with an application close code.
    func refuse(_ code: UInt16, _ name: String, _ message: String) async throws {
        try? await self.write(.text(ControlMessage.error(.init(code: name, message: message)).encoded()))
        // A close reason must fit in a control frame: at most 123 bytes of UTF-8.
        var reason = Substring(message)
        while reason.utf8.count > 120 { reason = reason.dropLast() }
        try await self.close(.init(codeNumber: Int(code)), reason: String(reason))
    }

    /// Refuses a session before it began: first waits (at most 2 s) for the client's first message,
    /// which every client sends at once (`hello`, `watch`, `list`). A refusal that arrived together
    /// with the 101 response, while the client was still finishing its upgrade, was sometimes never
    /// seen: swift-websocket's client stalled in CLOSE-WAIT about one time in twelve. Once the client
    /// has sent, its upgrade is done and it reads what comes.
    func refuseAtStart(_ inbound: WebSocketInboundStream, _ code: UInt16, _ name: String, _ message: String) async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var messages = inbound.makeAsyncIterator()
                _ = try? await messages.next()
            }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        try await self.refuse(code, name, message)
    }

    /// Refuses a session whose token lacks `role`; true when it did. The token itself is never logged.
    func refuseUnless(_ decision: AccessTokens.Decision, inbound: WebSocketInboundStream, logger: Logger) async throws -> Bool {
        switch decision {
        case .allowed:
            return false
        case .missing:
            logger.notice("refused a connection: no token")
            try await self.refuseAtStart(inbound, CloseCode.unauthorized, "unauthorized", "this server needs a token: give --token or set TAILCAST_TOKEN")
        case .unknown:
            logger.notice("refused a connection: unknown token")
            try await self.refuseAtStart(inbound, CloseCode.unauthorized, "unauthorized", "the server does not know this token")
        case .forbidden(let role):
            logger.notice("refused a connection: token without the \(role.rawValue) role")
            try await self.refuseAtStart(inbound, CloseCode.forbidden, "forbidden", "this token may not \(role.rawValue)")
        }
        return true
    }
}
