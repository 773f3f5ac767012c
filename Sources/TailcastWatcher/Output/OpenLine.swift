/// The unfinished line a job's output leaves the cursor on: a bar redrawn with `\r` (tqdm, ninja, ffmpeg) stays
/// unfinished for as long as it runs. Pinned bars can still go below it if the line can be drawn again after them:
/// what it shows is kept, and `redraw(width:)` gives it back when it fits on one row and moves the cursor only by
/// printing (colours and `ESC[K` allowed, nothing else).
struct OpenLine {
    /// Longer lines are not kept: they wrap, and a wrapped line cannot be returned to with a carriage return.
    static let capacity = 1024

    /// What the line shows; nil once it is too long or holds a cursor movement.
    private var text: [UInt8]? = []
    /// The output returned to the line's start (ffmpeg ends each redraw with `\r`): the text still shows until the
    /// next is printed over it, and the cursor is at column 0.
    private var returned = false
    /// The last byte written was a newline (or nothing was written yet).
    private(set) var atLineStart = true

    mutating func append(_ bytes: [UInt8]) {
        guard let last = bytes.last else { return }
        atLineStart = last == 0x0A
        var tail = bytes[...]
        if let newline = bytes.lastIndex(of: 0x0A) {
            text = []
            returned = false
            tail = bytes[(newline + 1)...]
        }
        for byte in tail {
            if byte == 0x0D {
                returned = true
                continue
            }
            if returned {
                text = []
                returned = false
            }
            if let count = text?.count, count < Self.capacity {
                text?.append(byte)
            } else {
                text = nil
            }
        }
    }

    /// The line printed again from its start, leaving the cursor where the output left it; nil if it cannot be
    /// drawn again within `width` columns.
    func redraw(width: Int) -> [UInt8]? {
        guard let text, Self.columns(text) < width else { return nil }
        return [0x0D] + text + (returned ? [0x0D] : [])
    }

    /// Columns the text takes, or Int.max if it has an escape sequence other than a colour or an erase to the end
    /// of the line, or a control character (a backspace or tab: columns no longer follow from the bytes).
    private static func columns(_ text: [UInt8]) -> Int {
        var columns = 0
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == 0x1B {
                guard index + 1 < text.count, text[index + 1] == UInt8(ascii: "[") else { return .max }
                var end = index + 2
                while end < text.count, (0x30...0x3F).contains(text[end]) { end += 1 }
                guard end < text.count, text[end] == UInt8(ascii: "m") || text[end] == UInt8(ascii: "K") else {
                    return .max
                }
                index = end + 1
                continue
            }
            if byte < 0x20 { return .max }
            if byte & 0xC0 != 0x80 { columns += 1 }  // one per character, not per UTF-8 byte
            index += 1
        }
        return columns
    }
}
