/// apt's download list, as `apt-get install` and `apt-get update` print it into a pipe or a log:
/// `Need to get 31.2 MB of archives.`, then a line per file, `Get:1 http://deb.debian.org/debian bookworm/main amd64
/// libfoo amd64 1.2-3 [5229 kB]`, then `Fetched 31.2 MB in 4s (7802 kB/s)`. The sizes of the files fetched so far
/// add up to the progress; `Need to get` is the total when apt says it (not for `update`). Sizes are 1000-based and
/// may have thousands separators (`[1,060 kB]`).
struct AptParser: Sendable {
    private var needToGet: Double?
    private var fetched: Double = 0

    /// Notes `Need to get 31.2 MB of archives.` (or `Need to get 31.2 MB/45.0 MB of archives.` when some are
    /// cached: the first size is what is downloaded); true if the line was one.
    mutating func noteContext(_ line: ScannedLine) -> Bool {
        guard line.hasPrefix("Need to get "), line.tokens.count >= 5 else { return false }
        let value = line.tokens[3]
        let unit = line.tokens[4]
        let slash = line.firstIndex(of: Ascii.slash, in: unit) ?? unit.upperBound
        needToGet = size(line, value: value, unit: unit.lowerBound..<slash)
        fetched = 0
        return true
    }

    mutating func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        if line.hasPrefix("Get:"), tokens.count >= 3, let last = tokens.last,
            line[last.upperBound - 1] == Ascii.closeBracket,
            line[tokens[tokens.count - 2].lowerBound] == Ascii.openBracket,
            let bytes = size(
                line, value: (tokens[tokens.count - 2].lowerBound + 1)..<tokens[tokens.count - 2].upperBound,
                unit: last.lowerBound..<(last.upperBound - 1))
        {
            fetched += bytes
            // Each size is rounded, and so is the total: their sum can pass it by a little.
            return ProgressReading(
                family: .apt, current: needToGet.map { min($0, fetched) } ?? fetched, total: needToGet, unit: "B")
        }
        // `Fetched 31.2 MB in 4s (7802 kB/s)`: the end of this download list.
        guard line.hasPrefix("Fetched "), tokens.count >= 5, line.equals(tokens[3], "in"),
            let total = size(line, value: tokens[1], unit: tokens[2])
        else { return nil }
        var rate: Double?
        if tokens.count >= 7, line[tokens[5].lowerBound] == Ascii.openParenthesis,
            line.hasSuffix(tokens[6], "/s)")
        {
            rate = size(
                line, value: (tokens[5].lowerBound + 1)..<tokens[5].upperBound,
                unit: tokens[6].lowerBound..<(tokens[6].upperBound - 3))
        }
        needToGet = nil
        fetched = 0
        return ProgressReading(family: .apt, current: total, total: total, unit: "B", rate: rate, etaSeconds: 0)
    }

    /// `5229` `kB`, `1,060` `kB`, `31.2` `MB`, `0` `B`.
    private func size(_ line: ScannedLine, value: Range<Int>, unit: Range<Int>) -> Double? {
        // Whole bytes: `55.4 kB` is 55400, not 55400.000000000007.
        line.byteQuantity(value: value, unit: unit, plainPrefixBase: 1000, allowingCommas: true)?.rounded()
    }
}
