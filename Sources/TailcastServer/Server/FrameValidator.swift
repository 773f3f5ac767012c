import NIOCore
import NIOWebSocket

/// What RFC 6455 and RFC 7692 require of a client's frame that the WebSocket libraries leave unchecked:
/// swift-websocket checks reserved bits only on data frames, and nothing checks the mask bit or the
/// UTF-8 of a close reason. Decisions only; `FrameValidatorHandler` applies them to the connection.
///
/// RSV1 on the first frame of a data message is left to the library, which knows whether
/// permessage-deflate was negotiated; every other reserved bit is wrong whatever was negotiated.
enum FrameValidator {
    enum Verdict: Equatable {
        case pass
        /// Fail the connection: send a close frame with this code and reason, then close.
        case fail(WebSocketErrorCode, String)
    }

    static func check(_ frame: WebSocketFrame) -> Verdict {
        // RFC 6455 5.1: a server MUST close the connection on an unmasked client frame.
        guard frame.maskKey != nil else { return .fail(.protocolError, "client frames must be masked") }
        // No extension tailcast negotiates defines RSV2 or RSV3 (RFC 6455 5.2).
        if frame.rsv2 || frame.rsv3 { return .fail(.protocolError, "reserved bit RSV2 or RSV3 set") }
        // RFC 7692 6.1: RSV1 marks a compressed message, on its first frame only, never on a control frame.
        if frame.rsv1, frame.opcode.isControlOpcode { return .fail(.protocolError, "reserved bit RSV1 set on a control frame") }
        if frame.rsv1, frame.opcode == .continuation { return .fail(.protocolError, "reserved bit RSV1 set on a continuation frame") }
        // RFC 6455 5.5.1 and 8.1: a close reason is UTF-8. (Short payloads and bad codes are the library's to refuse.)
        if frame.opcode == .connectionClose, String(validating: frame.unmaskedData.readableBytesView.dropFirst(2), as: UTF8.self) == nil {
            return .fail(.dataInconsistentWithMessage, "the close reason is not valid UTF-8")
        }
        return .pass
    }
}
