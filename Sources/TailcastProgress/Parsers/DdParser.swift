/// `dd status=progress`: `10551296 bytes (11 MB, 10 MiB) copied, 1 s, 9.7 MB/s`. Exact byte counts, no total;
/// the rate uses SI prefixes.
enum DdParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard tokens.count >= 4, line.equals(tokens[1], "bytes") || line.equals(tokens[1], "byte"),
            let copied = line.wholeNumber(tokens[0]), line.find(" copied,") != nil
        else { return nil }
        let rate = line.byteRate(
            value: tokens[tokens.count - 2], unit: tokens[tokens.count - 1], plainPrefixBase: 1000)
        return ProgressReading(family: .dd, current: copied, unit: "B", rate: rate)
    }
}
