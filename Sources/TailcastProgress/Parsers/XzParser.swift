/// `xz -v` on a terminal, redrawn after `\r` every second:
/// ` 46.9 %   3.7 MiB / 4.8 MiB = 0.763   1.6 MiB/s   0:03   5 s`: the share of the input read, the compressed and
/// the uncompressed amounts so far, their ratio, the uncompressed speed, the elapsed time and, once xz can tell,
/// the time left (`5 s`, `2 min 30 s`, `1 h 10 min`, `3 d 2 h`). Speed and times are blank at first.
///
/// The bar counts uncompressed bytes, the amount the speed measures; its total follows from the percentage
/// (exact at 100%), which for decompression is an estimate at the ratio so far.
enum XzParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard line.marks.contains(.percent), tokens.count >= 9, line.equals(tokens[1], "%"),
            line.equals(tokens[4], "/"), line.equals(tokens[7], "="),
            let percent = line.wholeNumber(tokens[0]), percent <= 100,
            size(line, tokens[2], tokens[3]) != nil, let uncompressed = size(line, tokens[5], tokens[6])
        else { return nil }
        var index = 9
        var rate: Double?
        if index + 1 < tokens.count, let speed = line.byteRate(
            value: tokens[index], unit: tokens[index + 1], plainPrefixBase: 1024)
        {
            rate = speed
            index += 2
        }
        if index < tokens.count, line.clock(tokens[index]) != nil { index += 1 }
        let eta = percent >= 100 ? 0 : remaining(line, tokens[index...])
        return ProgressReading(
            family: .xz, current: uncompressed,
            total: ProgressReading.total(current: uncompressed, shownPercent: percent), unit: "B", rate: rate,
            etaSeconds: eta)
    }

    /// `8,114.0` `KiB`.
    private static func size(_ line: ScannedLine, _ amount: Range<Int>, _ unit: Range<Int>) -> Double? {
        line.byteQuantity(value: amount, unit: unit, plainPrefixBase: 1024, allowingCommas: true)
    }

    /// `5 s`, `2 min 30 s`, `1 h 10 min`, `3 d`: nil when blank or anything else.
    private static func remaining(_ line: ScannedLine, _ tokens: ArraySlice<Range<Int>>) -> Double? {
        guard !tokens.isEmpty, tokens.count.isMultiple(of: 2) else { return nil }
        var seconds = 0.0
        var index = tokens.startIndex
        while index < tokens.endIndex {
            guard let value = line.wholeNumber(tokens[index]) else { return nil }
            let unit = tokens[index + 1]
            if line.equals(unit, "s") {
                seconds += value
            } else if line.equals(unit, "min") {
                seconds += value * 60
            } else if line.equals(unit, "h") {
                seconds += value * 3600
            } else if line.equals(unit, "d") {
                seconds += value * 86400
            } else {
                return nil
            }
            index += 2
        }
        return seconds
    }
}
