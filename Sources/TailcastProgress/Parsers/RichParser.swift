/// rich's progress columns, and pip's download bar, which is rich: `Downloading... ━━━━━╸━━━━ 45% 0:00:05`,
/// `━━━━━━━━━━ 16.9/16.9 MB 3.1 MB/s eta 0:00:00`, `Processing ━━━━━━ 10/200 0:00:04`. Download sizes are
/// 1000-based unless written `MiB`. The default columns show only a percentage.
enum RichParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        guard line.marks.contains(.boxDrawing), let barStart = firstBarCharacter(in: line) else { return nil }
        var barEnd = barStart
        while isBarCharacter(in: line, at: barEnd) { barEnd += 3 }
        let columns = Array(line.tokens.drop { $0.lowerBound < barEnd })
        var percent: Double?
        var current: Double?
        var total: Double?
        var unit = ""
        var rate: Double?
        var eta: Double?
        var index = 0
        while index < columns.count {
            let column = columns[index]
            let next = index + 1 < columns.count ? columns[index + 1] : nil
            if let shown = line.percent(column) {
                percent = shown
                eta = next.flatMap { line.clock($0) }  // the time-remaining column follows the percentage
                index += 1
            } else if current == nil, let slash = line.find("/", from: column.lowerBound, to: column.upperBound),
                let done = line.wholeNumber(column.lowerBound..<slash, allowingCommas: true),
                let all = line.wholeNumber((slash + 1)..<column.upperBound, allowingCommas: true)
            {
                if let next, let multiplier = line.byteUnitMultiplier(next, plainPrefixBase: 1000) {
                    current = done * multiplier
                    total = all * multiplier
                    unit = "B"
                    index += 2
                } else {
                    current = done
                    total = all
                    index += 1
                }
            } else if let next, let speed = line.byteRate(value: column, unit: next, plainPrefixBase: 1000) {
                rate = speed
                index += 2
            } else if let next, line.equals(column, "eta") {
                eta = line.clock(next)
                index += 2
            } else {
                index += 1
            }
        }
        let label = line.caption(0..<barStart)
        if let current {
            if percent == nil, let total, current >= total { eta = 0 }
            return ProgressReading(
                family: .rich, current: current, total: total, unit: unit, rate: rate, etaSeconds: eta, label: label)
        }
        guard let percent else { return nil }
        // Once finished, rich shows the elapsed time where the remaining time was.
        return .percentOnly(.rich, percent: percent, etaSeconds: percent >= 100 ? 0 : eta, label: label)
    }

    /// ━ (complete or pending), ╸ and ╺ (half cells), as UTF-8.
    private static func isBarCharacter(in line: ScannedLine, at index: Int) -> Bool {
        guard index + 3 <= line.count, line[index] == 0xE2 else { return false }
        switch (line[index + 1], line[index + 2]) {
        case (0x94, 0x81), (0x95, 0xB8), (0x95, 0xBA): return true
        default: return false
        }
    }

    private static func firstBarCharacter(in line: ScannedLine) -> Int? {
        var start = 0
        while start < line.count, let lead = line.firstIndex(of: 0xE2, in: start..<line.count) {
            if isBarCharacter(in: line, at: lead) { return lead }
            start = lead + 1
        }
        return nil
    }
}
