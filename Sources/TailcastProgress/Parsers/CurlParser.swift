/// curl's progress meter and its `-#` bar. The meter's sizes (`48.0M`, `7360k`) are 1024-based; at 100% the received
/// size is the total, which avoids the meter's rounding. The bar shows only a percentage.
enum CurlParser {
    /// ` 14 48.0M   14 7360k    0     0  10.0M      0  0:00:04 --:--:--  0:00:04 10.0M`
    static func meterReading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard (12...14).contains(tokens.count),  // 14 when a time column reads like `1d 02h`
            let overallPercent = line.wholeNumber(tokens[0]),
            let receivedPercent = line.wholeNumber(tokens[2]),
            let sentPercent = line.wholeNumber(tokens[4]),
            max(overallPercent, receivedPercent, sentPercent) <= 100,
            let total = size(line, tokens[1]), let received = size(line, tokens[3]), let sent = size(line, tokens[5]),
            size(line, tokens[6]) != nil, size(line, tokens[7]) != nil,
            let speed = size(line, tokens[tokens.count - 1])
        else { return nil }
        let uploading = sent > 0 && received == 0
        var current = uploading ? sent : received
        let percent = uploading ? sentPercent : receivedPercent
        let knownTotal: Double? = total > 0 ? total : nil
        if let knownTotal, percent >= 100 { current = knownTotal }
        return ProgressReading(
            family: .curl, current: current, total: knownTotal, unit: "B", rate: speed,
            etaSeconds: tokens.count == 12 ? line.clock(tokens[10]) : nil)
    }

    /// `###########                        12.9%`: hashes and spaces, then a percentage with one decimal.
    static func barReading(in line: ScannedLine) -> ProgressReading? {
        guard line.marks.contains(.percent), let last = line.tokens.last, let percent = line.percent(last),
            line.find(".", from: last.lowerBound, to: last.upperBound) != nil,
            line.bytes[..<last.lowerBound].allSatisfy({ $0 == UInt8(ascii: "#") || $0 == Ascii.space })
        else { return nil }
        return .percentOnly(.curl, percent: percent)
    }

    private static func size(_ line: ScannedLine, _ range: Range<Int>) -> Double? {
        line.scaledNumber(range, base: 1024)
    }
}
