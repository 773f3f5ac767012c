/// Cheap tests that decide whether a finished line deserves the recognisers, so ordinary log lines (paths, URLs,
/// dates) cost one extra scan at most.
enum ProgressHint {
    /// `sawMarker`: the line holds a `%` or `/`; `redrawn`: it was ended or begun by a lone carriage return, the way
    /// every redrawn bar is, even ones without either mark (curl's meter, tqdm without a total).
    static func isCandidate(_ line: [UInt8], sawMarker: Bool, redrawn: Bool) -> Bool {
        redrawn || (sawMarker && containsMarker(line)) || hasContextPrefix(line)
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

    /// Lines without progress that carry what a recogniser needs later: wget's exact size and its file name.
    static func hasContextPrefix(_ line: [UInt8]) -> Bool {
        guard let first = line.first else { return false }
        if first == UInt8(ascii: "L") { return line.starts(with: "Length: ".utf8) }
        if first == UInt8(ascii: "S") { return line.starts(with: "Saving to: ".utf8) }
        return false
    }

    private static func isStandaloneFraction(_ line: UnsafeBufferPointer<UInt8>, slash: Int) -> Bool {
        var start = slash - 1
        while start > 0 && Ascii.isDigit(line[start - 1]) { start -= 1 }
        var end = slash + 1
        while end < line.count && Ascii.isDigit(line[end]) { end += 1 }
        return (start == 0 || line[start - 1] != Ascii.slash) && (end == line.count || line[end] != Ascii.slash)
    }
}
