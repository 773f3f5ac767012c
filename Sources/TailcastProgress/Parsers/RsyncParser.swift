/// rsync's `--progress` and `--info=progress2` lines: `  10,846,208  21%   10.01MB/s    0:00:03 (xfr#1, to-chk=0/1)`.
/// The byte count is exact; the total follows from the percentage (exact at 100%). The time is the remaining time
/// while running and the elapsed time once done.
enum RsyncParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard line.marks.contains(.percent), tokens.count >= 4, let percent = line.percent(tokens[1]),
            line.hasSuffix(tokens[2], "/s"),
            let time = line.clock(tokens[3]),
            // `-h` shows 10.85M instead of 10,846,208, in powers of 1000
            let transferred = line.scaledNumber(tokens[0], base: 1000, allowingCommas: true)
        else { return nil }
        return ProgressReading(
            family: .rsync, current: transferred,
            total: ProgressReading.total(current: transferred, shownPercent: percent), unit: "B",
            rate: line.byteRate(tokens[2], plainPrefixBase: 1024), etaSeconds: percent >= 100 ? 0 : time)
    }
}
