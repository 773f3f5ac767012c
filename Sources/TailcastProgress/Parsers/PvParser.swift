/// pv: `10.0MiB 0:00:01 [9.21MiB/s] [=====>      ] 20% ETA 0:00:03`; without a known size, no percentage. pv pads
/// its columns (`0.00 B`, `[ 256KiB/s]`), so the line is read by its brackets rather than by token positions.
/// The total follows from the percentage (exact at 100%). With `-l` pv counts lines: plain numbers, SI prefixes.
enum PvParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard line.marks.contains(.openBracket), line.marks.contains(.colon), tokens.count >= 3,
            let clockIndex = (1...2).first(where: { line.clock(tokens[$0]) != nil }),
            let rateOpen = tokens.dropFirst(clockIndex + 1).first?.lowerBound, line[rateOpen] == Ascii.openBracket,
            let rateClose = line.find("/s]", from: rateOpen)
        else { return nil }
        let amount = line.trimmed(tokens[0].lowerBound..<tokens[clockIndex].lowerBound)
        let rateAmount = line.trimmed((rateOpen + 1)..<rateClose)
        let current: Double
        let rate: Double?
        let unit: String
        if let bytes = line.byteQuantity(amount, plainPrefixBase: 1024) {
            current = bytes
            rate = line.byteQuantity(rateAmount, plainPrefixBase: 1024)
            unit = "B"
        } else if let count = line.scaledNumber(amount, base: 1000) {
            current = count
            rate = line.scaledNumber(rateAmount, base: 1000)
            unit = ""
        } else {
            return nil
        }
        var percent: Double?
        var eta: Double?
        var index = tokens.firstIndex { $0.lowerBound > rateClose } ?? tokens.count
        while index < tokens.count {
            if let shown = line.percent(tokens[index]) {
                percent = shown
            } else if line.equals(tokens[index], "ETA"), index + 1 < tokens.count {
                eta = line.clock(tokens[index + 1])
            }
            index += 1
        }
        if let percent, percent >= 100 { eta = 0 }
        return ProgressReading(
            family: .pv, current: current,
            total: percent.flatMap { ProgressReading.total(current: current, shownPercent: $0) }, unit: unit,
            rate: rate, etaSeconds: eta)
    }
}
