import Logging
import NIOWebSocket
import TailcastProtocol
import WSCore

extension WebSocketOutboundWriter {
    /// Says why in an `error` message a client can show, then closes with an application close code.
    func refuse(_ code: ErrorCode, _ message: String) async throws {
        try? await self.write(.text(ControlMessage.error(.init(code: code, message: message)).encoded()))
        // A close reason must fit in a control frame: at most 123 bytes of UTF-8.
        var reason = Substring(message)
        while reason.utf8.count > 120 { reason = reason.dropLast() }
        try await self.close(.init(codeNumber: Int(code.closeCode)), reason: String(reason))
    }

    /// Refuses a session before it began: first waits (at most 2 s) for the client's first message,
    /// which every client sends at once (`hello`, `watch`, `list`). A refusal that arrived together
    /// with the 101 response, while the client was still finishing its upgrade, was sometimes never
    /// seen: swift-websocket's client stalled in CLOSE-WAIT about one time in twelve. Once the client
    /// has sent, its upgrade is done and it reads what comes.
    func refuseAtStart(_ inbound: WebSocketInboundStream, _ code: ErrorCode, _ message: String) async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var messages = inbound.makeAsyncIterator()
                _ = try? await messages.next()
            }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        try await self.refuse(code, message)
    }
}
