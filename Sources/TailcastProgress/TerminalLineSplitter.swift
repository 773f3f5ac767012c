/// Turns a byte stream into the lines a terminal would show, across arbitrary chunk boundaries.
///
/// A line ends at a line feed, at a carriage return (bars redraw themselves by returning to column 0), or at a cursor
/// movement to another row (multi-row displays). Escape sequences are dropped. Only lines that may hold progress are
/// handed out; the rest are discarded without being copied.
struct TerminalLineSplitter: Sendable {
    /// Longer lines are cut for parsing: progress lines are short, and the raw bytes are archived elsewhere.
    static let lineCapacity = 4096
    /// How far below a display's top row a line still counts as part of that display.
    static let maxDisplayDepth = 8

    private enum State: Sendable {
        case text
        /// A carriage return was seen; the next byte tells a line end (CR LF) from a redraw.
        case carriageReturn
        /// After ESC.
        case escape
        /// ESC followed by intermediate bytes (`ESC ( B`): skip to the final byte.
        case escapeIntermediate
        /// CSI, `ESC [ parameters final`: only cursor movements matter.
        case controlSequence
        /// OSC, DCS and the like (window titles, hyperlinks): skip to BEL or `ESC \`.
        case controlString
        /// ESC inside a control string: `\` ends the string.
        case controlStringEscape
    }

    private var state = State.text
    private var line: [UInt8] = []
    /// The last line handed out still sits in `line`; emptying it waits until the next line starts, so the caller's
    /// copy is usually released by then and the buffer is reused rather than duplicated.
    private var lineHandedOut = false
    private var sawMarker = false
    private var startedAfterRedraw = false
    /// Cursor row relative to where the output began; only differences between rows are used.
    private var row = 0
    /// Top row of the multi-row display being redrawn, set by the latest cursor-up.
    private var displayTop: Int?
    private var csiParameter = 0
    private var csiParameterComplete = false
    private var csiIsPrivate = false

    /// Consumes `bytes` from `index` on until a candidate line is complete, which it returns with `index` just past
    /// the bytes used, or until the bytes run out (nil, `index == bytes.count`).
    mutating func nextLine(in bytes: UnsafeRawBufferPointer, from index: inout Int) -> TerminalLine? {
        let count = bytes.count
        var position = index
        defer { index = position }
        while position < count {
            let byte = bytes[position]
            switch state {
            case .text:
                guard byte >= Ascii.space && byte != Ascii.delete else {
                    position += 1
                    if let finished = control(byte) { return finished }
                    continue
                }
                // Hot path: copy the whole run of printable bytes at once.
                var end = position + 1
                var marker = byte == Ascii.percent || byte == Ascii.slash
                // Eight at a time while none ends the run; the rest one by one.
                while end + 8 <= count {
                    let word = ByteWord(bytes, at: end)
                    if word.hasByte(below: Ascii.space) || word.contains(Ascii.delete) { break }
                    if !marker && (word.contains(Ascii.percent) || word.contains(Ascii.slash)) { marker = true }
                    end += 8
                }
                while end < count {
                    let next = bytes[end]
                    if next < Ascii.space || next == Ascii.delete { break }
                    if next == Ascii.percent || next == Ascii.slash { marker = true }
                    end += 1
                }
                if marker { sawMarker = true }
                append(UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
                position = end
            case .carriageReturn:
                switch byte {
                case Ascii.lineFeed:
                    position += 1
                    state = .text
                    let finished = endLine(redraw: false)
                    moveDown(1)
                    if let finished { return finished }
                case Ascii.carriageReturn:
                    position += 1
                default:
                    state = .text  // the byte is read again as text
                    if let finished = endLine(redraw: true) { return finished }
                }
            case .escape:
                position += 1
                switch byte {
                case Ascii.openBracket:
                    csiParameter = 0
                    csiParameterComplete = false
                    csiIsPrivate = false
                    state = .controlSequence
                case UInt8(ascii: "]"), UInt8(ascii: "P"), UInt8(ascii: "X"), UInt8(ascii: "^"), UInt8(ascii: "_"):
                    state = .controlString
                case 0x20...0x2F:
                    state = .escapeIntermediate
                case Ascii.escape:
                    break
                default:
                    state = .text
                }
            case .escapeIntermediate:
                position += 1
                if !(0x20...0x2F).contains(byte) { state = .text }
            case .controlSequence:
                switch byte {
                case 0x30...0x39:
                    position += 1
                    if !csiParameterComplete { csiParameter = min(csiParameter * 10 + Int(byte - 0x30), 9999) }
                case UInt8(ascii: ";"), UInt8(ascii: ":"):
                    position += 1
                    csiParameterComplete = true
                case 0x3C...0x3F:
                    position += 1
                    csiIsPrivate = true
                case 0x20...0x2F:
                    position += 1
                case 0x40...0x7E:
                    position += 1
                    state = .text
                    if !csiIsPrivate, let finished = controlSequenceEnded(with: byte) { return finished }
                default:
                    state = .text  // malformed: the byte is read again as text
                }
            case .controlString:
                position += 1
                if byte == Ascii.bell {
                    state = .text
                } else if byte == Ascii.escape {
                    state = .controlStringEscape
                }
            case .controlStringEscape:
                position += 1
                state = byte == UInt8(ascii: "\\") ? .text : .controlString
            }
        }
        return nil
    }

    /// Ends the output: the unterminated last line, if it is a candidate.
    mutating func finish() -> TerminalLine? {
        let redraw = state == .carriageReturn
        state = .text
        return endLine(redraw: redraw)
    }

    /// The line being written, as if it ended now; for showing a bar that is not redrawn again for a while.
    func pendingLine() -> TerminalLine? {
        guard !lineHandedOut, !line.isEmpty else { return nil }
        let redrawn = startedAfterRedraw || state == .carriageReturn
        guard ProgressHint.isCandidate(line, sawMarker: sawMarker, redrawn: redrawn) else { return nil }
        return TerminalLine(bytes: line, depth: depth)
    }

    private mutating func control(_ byte: UInt8) -> TerminalLine? {
        switch byte {
        case Ascii.lineFeed:
            let finished = endLine(redraw: false)
            moveDown(1)
            return finished
        case Ascii.carriageReturn:
            state = .carriageReturn
        case Ascii.escape:
            state = .escape
        case Ascii.tab:
            appendSpace()
        case Ascii.backspace:
            eraseLastCharacter()
        default:
            break  // BEL and the other controls draw nothing
        }
        return nil
    }

    private mutating func controlSequenceEnded(with finalByte: UInt8) -> TerminalLine? {
        let count = max(csiParameter, 1)
        switch finalByte {
        case UInt8(ascii: "A"), UInt8(ascii: "F"):
            // Cursor up: a multi-row display is being redrawn from the row it goes to.
            displayTop = row - count
            let finished = endLine(redraw: false)
            row -= count
            return finished
        case UInt8(ascii: "B"), UInt8(ascii: "E"):
            let finished = endLine(redraw: false)
            moveDown(count)
            return finished
        case UInt8(ascii: "G") where csiParameter <= 1:
            return endLine(redraw: true)  // to column 1: the same as a carriage return
        case UInt8(ascii: "H"), UInt8(ascii: "f"):
            displayTop = nil  // absolute positioning: rows can no longer be followed
            return endLine(redraw: false)
        default:
            return nil  // colours, erasing, modes: nothing to split on
        }
    }

    private mutating func append(_ text: UnsafeRawBufferPointer) {
        startLineIfHandedOut()
        let room = Self.lineCapacity - line.count
        guard room > 0 else { return }
        line.append(contentsOf: room >= text.count ? text : UnsafeRawBufferPointer(rebasing: text[..<room]))
    }

    private mutating func appendSpace() {
        startLineIfHandedOut()
        if line.count < Self.lineCapacity { line.append(Ascii.space) }
    }

    private mutating func eraseLastCharacter() {
        startLineIfHandedOut()
        while let last = line.last, last & 0xC0 == 0x80 { line.removeLast() }  // UTF-8 continuation bytes
        if !line.isEmpty { line.removeLast() }
    }

    private mutating func startLineIfHandedOut() {
        guard lineHandedOut else { return }
        line.removeAll(keepingCapacity: true)
        lineHandedOut = false
    }

    private mutating func endLine(redraw: Bool) -> TerminalLine? {
        startLineIfHandedOut()
        let redrawn = redraw || startedAfterRedraw
        let marker = sawMarker
        sawMarker = false
        startedAfterRedraw = redraw
        guard !line.isEmpty else { return nil }
        guard ProgressHint.isCandidate(line, sawMarker: marker, redrawn: redrawn) else {
            line.removeAll(keepingCapacity: true)
            return nil
        }
        lineHandedOut = true
        return TerminalLine(bytes: line, depth: depth)
    }

    private mutating func moveDown(_ rows: Int) {
        row += rows
        if let displayTop, row - displayTop > Self.maxDisplayDepth { self.displayTop = nil }
    }

    private var depth: Int {
        guard let displayTop else { return 0 }
        let depth = row - displayTop
        return depth >= 0 && depth <= Self.maxDisplayDepth ? depth : 0
    }
}
