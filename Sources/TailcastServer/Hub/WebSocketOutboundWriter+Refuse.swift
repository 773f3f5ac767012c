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
}
