import Foundation
import NIOCore
import TailcastProtocol

/// One event of `text/event-stream` (WHATWG HTML, "Server-sent events"). Data is always one line of JSON,
/// which never holds a raw line break, so every event is `event:`, maybe `id:`, one `data:` and a blank line.
enum ServerSentEvent {
    static func event(_ name: String, id: String?, data: String) -> ByteBuffer {
        var text = "event: \(name)\n"
        if let id { text += "id: \(id)\n" }
        text += "data: \(data)\n\n"
        return ByteBuffer(string: text)
    }

    /// A comment: ignored by clients, it keeps proxies from closing a quiet stream.
    static let keepAlive = ByteBuffer(string: ": keepalive\n\n")

    /// Bytes of a stream as an `output` event's data: `text` when they are UTF-8, else `base64`.
    struct Output: Encodable {
        var type = "output"
        var stream: String
        var offset: UInt64
        var text: String?
        var base64: String?
    }

    /// The output for `bytes` (from `offset` on) and how many of them it carries: the longest run of whole
    /// UTF-8 characters as `text`; else the bytes that are not UTF-8, up to the next ASCII byte, as `base64`.
    /// A character cut at the end of what is written so far is thus left for the next event, which has
    /// its other bytes when they were written by then.
    static func output(stream: String, offset: UInt64, bytes: ByteBuffer) -> (data: String, count: Int) {
        let view = bytes.readableBytesView
        let valid = Self.utf8Prefix(of: view)
        if valid > 0, let text = String(validating: view.prefix(valid), as: UTF8.self) {
            return (Self.json(Output(stream: stream, offset: offset, text: text)), valid)
        }
        let ascii = view.firstIndex(where: { $0 < 0x80 }) ?? view.endIndex
        let count = max(1, ascii - view.startIndex)
        return (Self.json(Output(stream: stream, offset: offset, base64: Data(view.prefix(count)).base64EncodedString())), count)
    }

    /// How many bytes at the start are whole UTF-8 characters (RFC 3629: no overlong forms, no surrogates).
    static func utf8Prefix(of bytes: ByteBufferView) -> Int {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let lead = bytes[index]
            // The length of the character, and the range its second byte must fall in.
            let (length, second): (Int, ClosedRange<UInt8>) =
                switch lead {
                case 0x00...0x7F: (1, 0x80...0xBF)
                case 0xC2...0xDF: (2, 0x80...0xBF)
                case 0xE0: (3, 0xA0...0xBF)
                case 0xED: (3, 0x80...0x9F)
                case 0xE1...0xEF: (3, 0x80...0xBF)
                case 0xF0: (4, 0x90...0xBF)
                case 0xF1...0xF3: (4, 0x80...0xBF)
                case 0xF4: (4, 0x80...0x8F)
                default: (0, 0x80...0xBF)
                }
            guard length > 0, bytes.endIndex - index >= length else { break }
            if length > 1 {
                guard second.contains(bytes[index + 1]), (2..<length).allSatisfy({ (0x80...0xBF).contains(bytes[index + $0]) }) else { break }
            }
            index += length
        }
        return index - bytes.startIndex
    }

    static func json(_ value: some Encodable) -> String {
        // Encoding these plain structs cannot fail.
        String(decoding: try! ProtocolJSON.encode(value), as: UTF8.self)
    }
}
