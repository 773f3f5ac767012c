/// Cheap tests that decide whether a finished line deserves the recognisers, so ordinary log lines (paths, URLs,
/// dates) cost one extra scan at most.
enum ProgressHint {
    /// `sawMarker`: the line holds a `%` or `/`; `redrawn`: it was ended or begun by a lone carriage return, the way
    /// every redrawn bar is, even ones without either mark (curl's meter, tqdm without a total). Lines with neither
    /// are candidates for what they start with, for being a bare number, or for `N of M` and `total=` in them.
    static func isCandidate(_ line: [UInt8], sawMarker: Bool, redrawn: Bool) -> Bool {
        redrawn || (sawMarker && containsMarker(line)) || hasContextPrefix(line) || isBareNumber(line)
            || containsCountWithoutMarker(line)
    }

    /// A digit before `%`, a fraction `N/M` that is not part of a path or date, or a rate such as `MB/s`.
    static func containsMarker(_ line: [UInt8]) -> Bool {
        line.withUnsafeBufferPointer { line in
            var index = 1
            while index < line.count {
                let byte = line[index]
                if byte == Ascii.percent {
                    if Ascii.isDigit(line[index - 1]) { return true }
                } else if byte == Ascii.slash, index + 1 < line.count {
                    let before = line[index - 1]
                    let after = line[index + 1]
                    if Ascii.isDigit(before) && Ascii.isDigit(after) {
                        if isStandaloneFraction(line, slash: index) { return true }
                    } else if after == UInt8(ascii: "s") && Ascii.isLetter(before)
                        && (index + 2 == line.count || !Ascii.isLetter(line[index + 2]))
                    {
                        return true
                    }
                }
                index += 1
            }
            return false
        }
    }

    /// Lines that carry what a recogniser needs later (wget's exact size and its file name, ffmpeg's input length,
    /// apt's download size), and progress lines of programs that mark them by their start rather than by `%` or `/`
    /// (apt's `Get:` list, ffmpeg's `-progress` output).
    static func hasContextPrefix(_ line: [UInt8]) -> Bool {
        guard let first = line.first else { return false }
        switch first {
        case UInt8(ascii: "L"): return line.starts(with: "Length: ".utf8)
        case UInt8(ascii: "S"): return line.starts(with: "Saving to: ".utf8)
        case UInt8(ascii: "G"): return line.starts(with: "Get:".utf8)
        case UInt8(ascii: "F"): return line.starts(with: "Fetched ".utf8)
        case UInt8(ascii: "N"): return line.starts(with: "Need to get ".utf8)
        case UInt8(ascii: "o"): return line.starts(with: "out_time=".utf8)
        case Ascii.space: return line.drop { $0 == Ascii.space }.starts(with: "Duration: ".utf8)
        default: return false
        }
    }

    /// `45` alone on its line: a step of a percentage stream such as `pv -n`'s.
    static func isBareNumber(_ line: [UInt8]) -> Bool {
        guard let first = line.first, Ascii.isDigit(first), line.count <= 12 else { return false }
        return line.allSatisfy { Ascii.isDigit($0) || $0 == Ascii.dot }
    }

    /// Counters written without `%` or `/`: `150 of 1200`, `4 MB of 10 MB` and `total=1200`. Both shapes
    /// hold an `f` or a `=`: only eight-byte words with one are looked at byte by byte (`ByteWord`).
    static func containsCountWithoutMarker(_ line: [UInt8]) -> Bool {
        line.withUnsafeBufferPointer { line in
            let raw = UnsafeRawBufferPointer(line)
            var start = 0
            while start < line.count {
                let end = min(start + 8, line.count)
                if end - start == 8 {
                    let word = ByteWord(raw, at: start)
                    if !word.contains(UInt8(ascii: "f")) && !word.contains(UInt8(ascii: "=")) {
                        start = end
                        continue
                    }
                }
                for index in start..<end {
                    switch line[index] {
                    case UInt8(ascii: "f"):
                        // ` of ` with its space two bytes back, a number (or a unit's `B`) before and after.
                        let space = index - 2
                        if space >= 1 && space + 4 < line.count && line[space] == Ascii.space
                            && line[space + 1] == UInt8(ascii: "o") && line[space + 3] == Ascii.space
                            && (Ascii.isDigit(line[space - 1]) || line[space - 1] == UInt8(ascii: "B"))
                            && Ascii.isDigit(line[space + 4])
                        {
                            return true
                        }
                    case UInt8(ascii: "="):
                        if index >= 5 && line[(index - 5)..<index].elementsEqual("total".utf8) { return true }
                    default:
                        break
                    }
                }
                start = end
            }
            return false
        }
    }

    private static func isStandaloneFraction(_ line: UnsafeBufferPointer<UInt8>, slash: Int) -> Bool {
        var start = slash - 1
        while start > 0 && Ascii.isDigit(line[start - 1]) { start -= 1 }
        var end = slash + 1
        while end < line.count && Ascii.isDigit(line[end]) { end += 1 }
        return (start == 0 || line[start - 1] != Ascii.slash) && (end == line.count || line[end] != Ascii.slash)
    }
}
