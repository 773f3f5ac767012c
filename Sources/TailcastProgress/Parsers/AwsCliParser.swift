/// aws-cli's `s3 cp`/`sync` status line, redrawn after `\r`:
/// `Completed 4.0 MiB/10.0 MiB (5.0 MiB/s) with 1 file(s) remaining`. Sizes are 1024-based (`KiB`, `MiB`, and
/// `Bytes` below a KiB). Without the byte sizes (`Completed 3 file(s) with 2 file(s) remaining`) it is not read:
/// the done count alone has no total.
enum AwsCliParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        // Completed, 4.0, MiB/10.0, MiB, (5.0, MiB/s)
        guard line.marks.contains(.slash), tokens.count >= 4, line.equals(tokens[0], "Completed"),
            let slash = line.find("/", from: tokens[2].lowerBound, to: tokens[2].upperBound),
            let current = size(line, tokens[1], tokens[2].lowerBound..<slash),
            let total = size(line, (slash + 1)..<tokens[2].upperBound, tokens[3]), total > 0, current <= total
        else { return nil }
        var rate: Double?
        if tokens.count >= 6, line[tokens[4].lowerBound] == Ascii.openParenthesis,
            line[tokens[5].upperBound - 1] == Ascii.closeParenthesis
        {
            rate = line.byteRate(
                value: (tokens[4].lowerBound + 1)..<tokens[4].upperBound,
                unit: tokens[5].lowerBound..<(tokens[5].upperBound - 1), plainPrefixBase: 1024)
        }
        return ProgressReading(family: .aws, current: current, total: total, unit: "B", rate: rate)
    }

    private static func size(_ line: ScannedLine, _ amount: Range<Int>, _ unit: Range<Int>) -> Double? {
        if line.equals(unit, "Bytes") { return line.wholeNumber(amount) }
        return line.byteQuantity(value: amount, unit: unit, plainPrefixBase: 1024)
    }
}
