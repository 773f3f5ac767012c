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

    /// Refuses a session whose token lacks `role`; true when it did. The token itself is never logged.
    func refuseUnless(_ decision: AccessTokens.Decision, logger: Logger) async throws -> Bool {
        switch decision {
        case .allowed:
            return false
        case .missing:
            logger.notice("refused a connection: no token")
            try await self.refuse(CloseCode.unauthorized, "unauthorized", "this server needs a token: give --token or set TAILCAST_TOKEN")
        case .unknown:
            logger.notice("refused a connection: unknown token")
            try await self.refuse(CloseCode.unauthorized, "unauthorized", "the server does not know this token")
        case .forbidden(let role):
            logger.notice("refused a connection: token without the \(role.rawValue) role")
            try await self.refuse(CloseCode.forbidden, "forbidden", "this token may not \(role.rawValue)")
        }
        return true
    }
}
