/// A candidate line's bytes and its space-separated tokens, with the byte-level reading the recognisers share.
/// Positions are byte offsets; nothing here allocates except `text` and `caption`.
struct ScannedLine {
    /// Bytes some formats cannot do without, noted while tokenising so a parser can bow out without scanning.
    struct Marks: OptionSet {
        let rawValue: UInt8
        static let percent = Marks(rawValue: 1 << 0)
        static let slash = Marks(rawValue: 1 << 1)
        static let colon = Marks(rawValue: 1 << 2)
        static let openBracket = Marks(rawValue: 1 << 3)
        static let openParenthesis = Marks(rawValue: 1 << 4)
        /// 0xE2, the lead byte of rich's bar characters.
        static let boxDrawing = Marks(rawValue: 1 << 5)
    }

    let bytes: [UInt8]
    let tokens: [Range<Int>]
    let marks: Marks

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var tokens: [Range<Int>] = []
        tokens.reserveCapacity(16)
        var marks: UInt8 = 0
        Self.marksOfBytes.withUnsafeBufferPointer { marksOfBytes in
            bytes.withUnsafeBufferPointer { line in
                var index = 0
                while index < line.count {
                    while index < line.count && line[index] == Ascii.space { index += 1 }
                    guard index < line.count else { break }
                    let start = index
                    while index < line.count && line[index] != Ascii.space {
                        marks |= marksOfBytes[Int(line[index])]
                        index += 1
                    }
                    tokens.append(start..<index)
                }
            }
        }
        self.tokens = tokens
        self.marks = Marks(rawValue: marks)
    }

    /// The mark each byte value sets: a table lookup is faster than comparing every byte with each marked one.
    private static let marksOfBytes: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        table[Int(Ascii.percent)] = Marks.percent.rawValue
        table[Int(Ascii.slash)] = Marks.slash.rawValue
        table[Int(Ascii.colon)] = Marks.colon.rawValue
        table[Int(Ascii.openBracket)] = Marks.openBracket.rawValue
        table[Int(Ascii.openParenthesis)] = Marks.openParenthesis.rawValue
        table[0xE2] = Marks.boxDrawing.rawValue
        return table
    }()

    var count: Int { bytes.count }

    subscript(index: Int) -> UInt8 { bytes[index] }

    /// First occurrence of `needle` lying wholly within `start..<end`.
    func find(_ needle: StaticString, from start: Int = 0, to end: Int? = nil) -> Int? {
        let end = min(end ?? bytes.count, bytes.count)
        return needle.withUTF8Buffer { pattern in
            guard !pattern.isEmpty else { return nil }
            var index = max(start, 0)
            while index + pattern.count <= end {
                if matches(pattern, at: index) { return index }
                index += 1
            }
            return nil
        }
    }

    /// Last occurrence of `needle` lying wholly before `end`.
    func findLast(_ needle: StaticString, before end: Int) -> Int? {
        needle.withUTF8Buffer { pattern in
            guard !pattern.isEmpty else { return nil }
            var index = min(end, bytes.count) - pattern.count
            while index >= 0 {
                if matches(pattern, at: index) { return index }
                index -= 1
            }
            return nil
        }
    }

    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        bytes[range].firstIndex(of: byte)
    }

    func hasPrefix(_ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { matches($0, at: 0) }
    }

    func hasSuffix(_ range: Range<Int>, _ suffix: StaticString) -> Bool {
        suffix.withUTF8Buffer { range.count >= $0.count && matches($0, at: range.upperBound - $0.count) }
    }

    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { range.count == $0.count && matches($0, at: range.lowerBound) }
    }

    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && bytes[lower] == Ascii.space { lower += 1 }
        while upper > lower && bytes[upper - 1] == Ascii.space { upper -= 1 }
        return lower..<upper
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The words before a bar, as a label: spaces and one trailing colon (tqdm's `desc: `) removed; nil if nothing
    /// is left.
    func caption(_ range: Range<Int>) -> String? {
        var words = trimmed(range)
        if let last = words.last, bytes[last] == Ascii.colon { words = trimmed(words.lowerBound..<last) }
        return words.isEmpty ? nil : text(words)
    }

    /// `range` without the quotes wget puts around file names (‘…’ in UTF-8 locales, '…' in others).
    func unquoted(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        for quote: StaticString in ["\u{2018}", "'", "\"", "`"] {
            let length = quote.withUTF8Buffer { lower + $0.count <= upper && matches($0, at: lower) ? $0.count : 0 }
            if length > 0 {
                lower += length
                break
            }
        }
        for quote: StaticString in ["\u{2019}", "'", "\"", "`"] {
            let length = quote.withUTF8Buffer {
                lower + $0.count <= upper && matches($0, at: upper - $0.count) ? $0.count : 0
            }
            if length > 0 {
                upper -= length
                break
            }
        }
        return lower..<upper
    }

    private func matches(_ pattern: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        guard index >= 0, index + pattern.count <= bytes.count else { return false }
        var offset = 0
        while offset < pattern.count && bytes[index + offset] == pattern[offset] { offset += 1 }
        return offset == pattern.count
    }
}
