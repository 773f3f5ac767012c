import Foundation
import NIOHTTP1

/// What RFC 6455 4.2.1 requires of an opening handshake, checked before NIO's upgrader sees it: the upgrader
/// fails a handshake without a key or with another version by closing the connection with no HTTP response,
/// and takes a key of any length. Decisions only; `RequestHeadHandler` writes the answer.
enum HandshakeCheck {
    enum Verdict: Equatable {
        /// Not a WebSocket upgrade: plain HTTP, for the router.
        case notWebSocket
        case pass
        /// Answer with this status and one line saying why, then close.
        case refuse(HTTPResponseStatus, String)
    }

    static let version = "13"

    static func check(_ head: HTTPRequestHead) -> Verdict {
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return .notWebSocket
        }
        guard head.method == .GET, (head.version.major, head.version.minor) >= (1, 1) else {
            return .refuse(.badRequest, "a WebSocket handshake is a GET request over HTTP/1.1")
        }
        // RFC 6455 4.2.2 and 4.4: answer another version with 426 and the version this server speaks.
        guard head.headers["Sec-WebSocket-Version"] == [Self.version] else {
            return .refuse(.upgradeRequired, "this server speaks WebSocket version \(Self.version) only (Sec-WebSocket-Version)")
        }
        let keys = head.headers["Sec-WebSocket-Key"]
        guard keys.count == 1, Data(base64Encoded: keys[0])?.count == 16 else {
            return .refuse(.badRequest, "Sec-WebSocket-Key must be one header of 16 bytes in base64")
        }
        return .pass
    }
}
