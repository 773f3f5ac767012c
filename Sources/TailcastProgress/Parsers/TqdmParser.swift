/// tqdm: `desc:  45%|████▌     | 45/100 [00:01<00:02, 30.0it/s, loss=0.1]`, and without a total
/// `desc: 450it [00:04, 98.3it/s]`. With `unit_scale` the counts read `1.00M/48.0M`; tqdm does not show whether it
/// divided by 1000 or 1024, so byte counts (unit "B") are taken as 1024-based, the `unit_divisor` downloads use,
/// and other units as 1000-based, tqdm's default.
enum TqdmParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        // The stats block `[elapsed<remaining, rate, postfix]` (`[elapsed, rate, postfix]` without a total) is
        // the last ` [` followed by a digit; a description may contain brackets of its own.
        guard line.marks.contains(.openBracket), line.marks.contains(.colon) else { return nil }
        var open = line.count
        repeat {
            guard let found = line.findLast(" [", before: open) else { return nil }
            open = found
        } while !(open + 2 < line.count && Ascii.isDigit(line[open + 2]))
        let statsEnd = line.find("]", from: open) ?? line.count
        var fieldEnd = open + 2
        while fieldEnd < statsEnd && line[fieldEnd] != UInt8(ascii: "<") && line[fieldEnd] != Ascii.comma {
            fieldEnd += 1
        }
        guard fieldEnd < statsEnd, line.clock((open + 2)..<fieldEnd) != nil else { return nil }
        var eta: Double?
        if line[fieldEnd] == UInt8(ascii: "<") {
            let remainingStart = fieldEnd + 1
            fieldEnd = line.firstIndex(of: Ascii.comma, in: remainingStart..<statsEnd) ?? statsEnd
            guard fieldEnd < statsEnd else { return nil }
            eta = line.clock(remainingStart..<fieldEnd)
        }
        var rateStart = fieldEnd + 1
        while rateStart < statsEnd && line[rateStart] == Ascii.space { rateStart += 1 }
        let rateEnd = line.firstIndex(of: Ascii.comma, in: rateStart..<statsEnd) ?? statsEnd
        guard let rated = rateAndUnit(line, rateStart..<rateEnd) else { return nil }

        let counts = line.trimmed(0..<open)
        guard !counts.isEmpty else { return nil }
        var countStart = counts.upperBound
        while countStart > counts.lowerBound && line[countStart - 1] != Ascii.space { countStart -= 1 }
        let base: Double = rated.unit == "B" ? 1024 : 1000
        var current: Double
        var total: Double?
        var descriptionEnd = countStart
        if let slash = line.find("/", from: countStart, to: counts.upperBound) {
            guard let count = line.scaledNumber(countStart..<slash, base: base) else { return nil }
            current = count
            total = line.scaledNumber((slash + 1)..<counts.upperBound, base: base)
            if let barStart = line.find("%|", from: counts.lowerBound, to: countStart) {
                descriptionEnd = line.numberStart(endingAt: barStart)
                // `48.0M/48.0M` at 100% is the total exactly, whatever the rounding of the display.
                if let total, let percent = line.wholeNumber(descriptionEnd..<barStart), percent >= 100 {
                    current = total
                }
            }
        } else {
            // No total: the count carries the unit, `450it`, `10.0MB`, `1.23kit`.
            guard let parsed = line.number(at: countStart, upTo: counts.upperBound) else { return nil }
            var unitStart = parsed.end
            var multiplier = 1.0
            if counts.upperBound - unitStart > rated.unit.utf8.count,
                let scale = ScannedLine.prefixScale(line[unitStart], base: base)
            {
                multiplier = scale
                unitStart += 1
            }
            guard line.bytes[unitStart..<counts.upperBound].elementsEqual(rated.unit.utf8) else { return nil }
            current = parsed.value * multiplier
        }
        return ProgressReading(
            family: .tqdm, current: current, total: total, unit: rated.unit, rate: rated.rate, etaSeconds: eta,
            label: line.caption(counts.lowerBound..<descriptionEnd))
    }

    /// `98.77it/s`, `10.3MB/s` (scaled), `?it/s` (no rate yet) or `1.52s/it` (slow loops show seconds per unit).
    private static func rateAndUnit(_ line: ScannedLine, _ range: Range<Int>) -> (rate: Double?, unit: String)? {
        guard range.count >= 3 else { return nil }
        let unknown = line[range.lowerBound] == UInt8(ascii: "?")
        if line.hasSuffix(range, "/s") {
            let end = range.upperBound - 2
            if unknown { return (nil, line.text((range.lowerBound + 1)..<end)) }
            guard let parsed = line.number(at: range.lowerBound, upTo: end) else { return nil }
            if end - parsed.end >= 2 {  // a prefix letter before the unit: `10.3MB/s`
                let unit = line.text((parsed.end + 1)..<end)
                if let scale = ScannedLine.prefixScale(line[parsed.end], base: unit == "B" ? 1024 : 1000) {
                    return (parsed.value * scale, unit)
                }
            }
            return (parsed.value, line.text(parsed.end..<end))
        }
        guard let secondsPer = line.find("s/", from: range.lowerBound, to: range.upperBound) else { return nil }
        let unit = line.text((secondsPer + 2)..<range.upperBound)
        if unknown { return (nil, unit) }
        guard let parsed = line.number(at: range.lowerBound, upTo: secondsPer), parsed.end == secondsPer,
            parsed.value > 0
        else { return nil }
        return (1 / parsed.value, unit)
    }
}
