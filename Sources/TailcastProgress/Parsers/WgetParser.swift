/// wget's bar (`wget.bin  45%[=======>     ]  21.6M  10.0MB/s  eta 2s`), its dot rows
/// (`  450K .......... .......... ..........  1%  182M 4s`), its closing `‘wget.bin’ saved [50331648/50331648]`, and
/// the lines before them that tell the exact size and the file name. Sizes are 1024-based.
struct WgetParser: Sendable {
    /// From `Length: 50331648 (48M)`: exact, where the bar and dot rows show rounded or derived sizes.
    private var length: Double?
    private var file: String?
    /// Bytes per dot: 1 KiB in the default dot style, learned from consecutive rows for `dot:binary` and `dot:mega`.
    private var dotBytes: Double = 1024
    private var lastDotRow: (offset: Double, dots: Int)?

    /// Notes a `Length:` or `Saving to:` line; true if the line was one.
    mutating func noteContext(_ line: ScannedLine) -> Bool {
        if line.hasPrefix("Length: ") {
            length = line.number(at: 8, upTo: line.count, allowingCommas: true)?.value  // nil for `unspecified`
            return true
        }
        if line.hasPrefix("Saving to: ") {
            let name = line.unquoted(line.trimmed(11..<line.count))
            file = name.isEmpty ? nil : line.text(name)
            lastDotRow = nil
            return true
        }
        return false
    }

    func barReading(in line: ScannedLine) -> ProgressReading? {
        guard line.marks.contains(.openBracket), let open = line.find("[") else { return nil }
        var close = open + 1
        while close < line.count && Self.isBarByte(line[close]) { close += 1 }
        guard close > open + 1, close < line.count, line[close] == Ascii.closeBracket else { return nil }
        var percent: Double?
        var nameEnd = open
        if open > 0 && line[open - 1] == Ascii.percent {  // no percentage when the size is unknown
            nameEnd = line.numberStart(endingAt: open - 1)
            guard let shown = line.wholeNumber(nameEnd..<(open - 1)) else { return nil }
            percent = shown
        }
        let columns = Array(line.tokens.drop { $0.lowerBound <= close })
        guard columns.count >= 2, let shownSize = line.scaledNumber(columns[0], base: 1024, allowingCommas: true),
            line.hasSuffix(columns[1], "/s")
        else { return nil }
        var eta: Double?
        if columns.count >= 4, line.equals(columns[2], "eta") {  // `eta 2s`, `eta 1m 5s`
            eta = columns[3...].reduce(0 as Double?) { sum, column in
                guard let sum, let part = line.compactDuration(column) else { return nil }
                return sum + part
            }
        }
        if let percent, percent >= 100 { eta = 0 }
        let settled = settle(shownSize, percent: percent)
        return ProgressReading(
            family: .wget, current: settled.current, total: settled.total, unit: "B",
            rate: line.byteRate(columns[1], plainPrefixBase: 1024), etaSeconds: eta,
            label: file ?? line.caption(0..<nameEnd))
    }

    mutating func dotsReading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard line.marks.contains(.percent), tokens.count >= 3, line[tokens[0].upperBound - 1] == UInt8(ascii: "K"),
            let kibibytes = line.wholeNumber(tokens[0].lowerBound..<(tokens[0].upperBound - 1))
        else { return nil }
        // Dot groups, then the percentage: `..........  1%`, or glued on by a full row: `..........100%`.
        var dots = 0
        var percent: Double?
        var index = 1
        while index < tokens.count && percent == nil {
            let token = tokens[index]
            let dotsEnd = token.firstIndex { line[$0] != Ascii.dot && line[$0] != Ascii.comma } ?? token.upperBound
            dots += dotsEnd - token.lowerBound
            if dotsEnd < token.upperBound {
                guard let shown = line.percent(dotsEnd..<token.upperBound) else { return nil }
                percent = shown
            }
            index += 1
        }
        guard dots > 0, let percent else { return nil }
        let offset = kibibytes * 1024
        if let last = lastDotRow, offset > last.offset { dotBytes = (offset - last.offset) / Double(last.dots) }
        lastDotRow = (offset: offset, dots: dots)
        // The last row ends `100% 3.73T=4.8s`: the speed of a partial row and the total time, neither worth keeping.
        let rate = index < tokens.count ? line.scaledNumber(tokens[index], base: 1024) : nil
        let eta = index + 1 < tokens.count ? line.compactDuration(tokens[index + 1]) : nil
        let settled = settle(offset + Double(dots) * dotBytes, percent: percent)
        return ProgressReading(
            family: .wget, current: settled.current, total: settled.total, unit: "B", rate: rate,
            etaSeconds: percent >= 100 ? 0 : eta, label: file)
    }

    /// `2026-11-25 12:41:47 (10.0 MB/s) - ‘wget.bin’ saved [50331648/50331648]`: exact, and final.
    func savedReading(in line: ScannedLine) -> ProgressReading? {
        guard line.marks.contains(.openBracket), let saved = line.find(" saved [") else { return nil }
        let start = saved + 8
        guard let close = line.find("]", from: start) else { return nil }
        let slash = line.find("/", from: start, to: close)
        guard let current = line.wholeNumber(start..<(slash ?? close)) else { return nil }
        var label = file
        if label == nil, let dash = line.find(" - ", to: saved) {
            label = line.caption(line.unquoted((dash + 3)..<saved))
        }
        return ProgressReading(
            family: .wget, current: current, total: slash.flatMap { line.wholeNumber(($0 + 1)..<close) }, unit: "B",
            etaSeconds: 0, label: label)
    }

    /// The exact length when known, else the total the percentage implies; at 100% the current size is the total.
    private func settle(_ current: Double, percent: Double?) -> (current: Double, total: Double?) {
        let total = length ?? percent.flatMap { ProgressReading.total(current: current, shownPercent: $0) }
        if let percent, percent >= 100, let total { return (total, total) }
        return (current, total)
    }

    private static func isBarByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: ">"), UInt8(ascii: "<"), UInt8(ascii: "-"), Ascii.space: true
        default: false
        }
    }
}
