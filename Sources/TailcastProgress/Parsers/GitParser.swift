/// git's counters: `Receiving objects:  45% (108045/240099), 10.00 MiB | 10.00 MiB/s`, `Resolving deltas: 100% (…)`,
/// `remote: Counting objects: …`, `Updating files: …`. The phase is the label; its last word is the unit. The byte rate
/// git shows while receiving is not a rate of the unit, so it is left out.
enum GitParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        guard line.marks.contains(.percent), line.marks.contains(.openParenthesis), line.marks.contains(.colon),
            let percentSign = line.find("% ("), percentSign > 0
        else { return nil }
        let percentStart = line.numberStart(endingAt: percentSign)
        guard line.wholeNumber(percentStart..<percentSign) != nil else { return nil }
        var colonEnd = percentStart
        while colonEnd > 0 && line[colonEnd - 1] == Ascii.space { colonEnd -= 1 }
        guard colonEnd > 0, line[colonEnd - 1] == Ascii.colon else { return nil }
        let phaseStart = min(line.hasPrefix("remote: ") ? 8 : 0, colonEnd - 1)
        let phase = line.trimmed(phaseStart..<(colonEnd - 1))
        guard !phase.isEmpty, phase.allSatisfy({ line[$0] == Ascii.space || Ascii.isLetter(line[$0]) }) else {
            return nil
        }
        let countsStart = percentSign + 3
        guard let close = line.find(")", from: countsStart),
            let slash = line.find("/", from: countsStart, to: close),
            let current = line.wholeNumber(countsStart..<slash),
            let total = line.wholeNumber((slash + 1)..<close)
        else { return nil }
        var unitStart = phase.upperBound
        while unitStart > phase.lowerBound && line[unitStart - 1] != Ascii.space { unitStart -= 1 }
        return ProgressReading(
            family: .git, current: current, total: total, unit: line.text(unitStart..<phase.upperBound).lowercased(),
            label: line.text(phase))
    }
}
