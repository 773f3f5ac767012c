import NIOCore
import NIOWebSocket
import Testing

@testable import TailcastServer

@Suite struct FrameValidatorTests {
    static let key = WebSocketMaskingKey([0x37, 0xfa, 0x21, 0x3d])!

    /// A client frame as NIO's decoder hands it on: payload masked with `key` unless `masked` is false.
    static func frame(
        _ opcode: WebSocketOpcode, _ payload: [UInt8] = [], fin: Bool = true,
        rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false, masked: Bool = true, key: WebSocketMaskingKey = key
    ) -> WebSocketFrame {
        var data = ByteBuffer(bytes: payload)
        if masked { data.webSocketMask(key) }
        return WebSocketFrame(fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, opcode: opcode, maskKey: masked ? key : nil, data: data)
    }

    static func close(_ code: UInt16, _ reason: [UInt8], key: WebSocketMaskingKey = key) -> WebSocketFrame {
        frame(.connectionClose, [UInt8(code >> 8), UInt8(code & 0xff)] + reason, key: key)
    }

    @Test func framesTheRFCsAllowPass() {
        for frame in [
            Self.frame(.text, Array("{}".utf8)), Self.frame(.binary, [1, 2, 3], fin: false), Self.frame(.continuation, [4]),
            Self.frame(.ping, Array("hi".utf8)), Self.frame(.pong), Self.frame(.connectionClose),
            // RSV1 on a message's first frame is for the library, which knows whether deflate was negotiated.
            Self.frame(.text, [0xff], rsv1: true), Self.frame(.binary, [0], fin: false, rsv1: true),
        ] {
            #expect(FrameValidator.check(frame) == .pass, "\(frame)")
        }
    }

    @Test func unmaskedFramesFailWith1002() {
        for opcode in [WebSocketOpcode.text, .binary, .continuation, .ping, .connectionClose] {
            #expect(FrameValidator.check(Self.frame(opcode, [1], masked: false)) == .fail(.protocolError, "client frames must be masked"))
        }
    }

    @Test func rsv2AndRsv3FailEveryFrameWith1002() {
        for opcode in [WebSocketOpcode.text, .binary, .continuation, .ping, .pong, .connectionClose] {
            for (rsv2, rsv3) in [(true, false), (false, true), (true, true)] {
                #expect(FrameValidator.check(Self.frame(opcode, rsv2: rsv2, rsv3: rsv3)) == .fail(.protocolError, "reserved bit RSV2 or RSV3 set"))
            }
        }
    }

    @Test func rsv1FailsControlAndContinuationFramesWith1002() {
        for opcode in [WebSocketOpcode.ping, .pong, .connectionClose] {
            #expect(FrameValidator.check(Self.frame(opcode, [1], rsv1: true)) == .fail(.protocolError, "reserved bit RSV1 set on a control frame"))
        }
        #expect(FrameValidator.check(Self.frame(.continuation, [1], rsv1: true)) == .fail(.protocolError, "reserved bit RSV1 set on a continuation frame"))
    }

    @Test func aCloseReasonMustBeUTF8() {
        #expect(FrameValidator.check(Self.close(1000, Array("bye ✓".utf8))) == .pass)
        #expect(FrameValidator.check(Self.close(1000, [])) == .pass)
        #expect(FrameValidator.check(Self.frame(.connectionClose, [0x03])) == .pass, "a 1-byte payload is the library's to refuse")
        let invalid = FrameValidator.Verdict.fail(.dataInconsistentWithMessage, "the close reason is not valid UTF-8")
        #expect(FrameValidator.check(Self.close(1000, Array("bye".utf8) + [0xff])) == invalid)
        #expect(FrameValidator.check(Self.close(1001, [0xed, 0xa0, 0x80])) == invalid, "a surrogate is not UTF-8")
        #expect(FrameValidator.check(Self.close(1000, [0xc3])) == invalid, "a sequence cut short")
    }

    @Test func theReasonIsCheckedUnmasked() {
        // This key turns ASCII into bytes above 0x7f and back: what is on the wire is not what is checked.
        let flip = WebSocketMaskingKey([0x80, 0x80, 0x80, 0x80])!
        #expect(FrameValidator.check(Self.close(1000, Array("ab".utf8), key: flip)) == .pass)
        #expect(FrameValidator.check(Self.close(1000, [0xff, 0xfe], key: flip)) == .fail(.dataInconsistentWithMessage, "the close reason is not valid UTF-8"))
    }
}
