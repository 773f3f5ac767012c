import Foundation

/// PostgreSQL's `text` and `jsonb` cannot hold U+0000, which JSON strings, and so an agent's `run_id`, metadata
/// and progress, may: one server archives `"host": "a\u0000b"` as sent, and the database refused it (SQLSTATE
/// 22P05), which a node took for an outage and retried for good. The store writes U+0000 as U+FDD0 (a
/// noncharacter, reserved for a program's internal use) followed by `0`, and U+FDD0 itself as two of them, and
/// reads both back: every value leaves the database as it came, and what a client sends cannot make a statement fail.
enum StoreText {
    /// U+FDD0 in UTF-8.
    private static let marker: [UInt8] = [0xEF, 0xB7, 0x90]
    private static let backslash = UInt8(ascii: "\\")
    private static let zero = UInt8(ascii: "0")
    /// How `JSONEncoder` writes U+0000 inside a string.
    private static let escapedNUL = Array(#"\u0000"#.utf8)

    /// A string as a `text` parameter holds it (the run id the lease and the record's `run_id` compare).
    static func escaped(_ text: String) -> String {
        String(decoding: self.escaping(Array(text.utf8), nul: [0]), as: UTF8.self)
    }

    /// A job record's JSON, as `JSONEncoder` writes it, as a `jsonb` parameter holds it.
    static func escapedJSON(_ json: Data) -> String {
        String(decoding: self.escaping(Array(json), nul: self.escapedNUL), as: UTF8.self)
    }

    /// The text of a `jsonb` record that `escapedJSON` wrote, as JSON with every U+0000 back.
    static func unescapedJSON(_ text: String) -> Data {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == self.backslash {
                // An escape's second byte is ASCII, never the start of a marker.
                out.append(contentsOf: bytes[i..<min(i + 2, bytes.count)])
                i += 2
            } else if self.marker(in: bytes, at: i) {
                if self.marker(in: bytes, at: i + 3) {
                    out.append(contentsOf: self.marker)
                    i += 6
                } else if i + 3 < bytes.count, bytes[i + 3] == self.zero {
                    out.append(contentsOf: self.escapedNUL)
                    i += 4
                } else {  // not written by `escapedJSON`: kept as it is
                    out.append(contentsOf: self.marker)
                    i += 3
                }
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return Data(out)
    }

    /// `bytes` with each `nul` (U+0000 as a byte, or as a JSON escape) written as the marker and `0`, and each
    /// marker doubled. In JSON, a backslash begins a two-byte escape (or `\uXXXX`), so `\\u0000` is a
    /// backslash and the text `u0000`, not a NUL.
    private static func escaping(_ bytes: [UInt8], nul: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i...].starts(with: nul) {
                out.append(contentsOf: self.marker + [self.zero])
                i += nul.count
            } else if self.marker(in: bytes, at: i) {
                out.append(contentsOf: self.marker + self.marker)
                i += 3
            } else if nul.count > 1, bytes[i] == self.backslash {
                out.append(contentsOf: bytes[i..<min(i + 2, bytes.count)])
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func marker(in bytes: [UInt8], at i: Int) -> Bool {
        i < bytes.count && bytes[i...].starts(with: self.marker)
    }
}
