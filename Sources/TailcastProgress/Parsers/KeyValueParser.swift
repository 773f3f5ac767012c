/// Progress written as `key=value` pairs. ffmpeg's stats line
/// (`frame=  150 fps= 30 q=28.0 size=     512kB time=00:00:05.96 bitrate= 703.2kbits/s speed=1.19x`) and its
/// `-progress` output (`out_time=00:00:05.960000`, one pair a line) count media time against the input's
/// `Duration: 00:01:23.45` header, at `speed` media seconds per second. Other programs write a count word with a
/// fraction (`epoch=3/10 step=40/100 loss=0.31`), a counter with its total (`processed=150 total=1200`) or a
/// percentage (`progress=45%`).
struct KeyValueParser: Sendable {
    static let counterKeys: Set<String> = ["current", "done", "count", "n", "processed", "completed", "finished"]
    static let percentKeys: Set<String> = ["progress", "percent", "pct"]

    /// From ffmpeg's `Duration:` line: the length of the input, which its stats count up to.
    private var mediaDuration: Double?

    private struct Pair {
        var key: Range<Int>
        var value: Range<Int>
    }

    /// Notes ffmpeg's `  Duration: 00:01:23.45, start: 0.000000, bitrate: 1205 kb/s`; true if the line was one.
    /// `Duration: N/A` (a live input) forgets a length noted before.
    mutating func noteContext(_ line: ScannedLine) -> Bool {
        guard line.tokens.count >= 2, line.equals(line.tokens[0], "Duration:") else { return false }
        var value = line.tokens[1]
        if line[value.upperBound - 1] == Ascii.comma { value = value.lowerBound..<(value.upperBound - 1) }
        mediaDuration = line.clock(value)
        return true
    }

    func reading(in line: ScannedLine) -> ProgressReading? {
        let pairs = Self.pairs(in: line)
        guard !pairs.isEmpty else { return nil }
        if let reading = mediaTimeReading(pairs, in: line) { return reading }
        var eta: Double?
        if let pair = pairs.first(where: { line.text($0.key).lowercased() == "eta" }) {
            eta = line.clock(pair.value) ?? line.compactDuration(pair.value)
        }
        for pair in pairs {
            let key = line.text(pair.key)
            let lowered = key.lowercased()
            if GenericParser.countWords.contains(lowered), let slash = line.firstIndex(of: Ascii.slash, in: pair.value),
                let done = line.wholeNumber(pair.value.lowerBound..<slash),
                let all = line.wholeNumber((slash + 1)..<pair.value.upperBound), all > 0, done <= all
            {
                return ProgressReading(family: .generic, current: done, total: all, etaSeconds: eta, label: key)
            }
            if Self.counterKeys.contains(lowered) || GenericParser.countWords.contains(lowered),
                let done = line.wholeNumber(pair.value),
                let totalPair = pairs.first(where: { line.equals($0.key, "total") }),
                let all = line.wholeNumber(totalPair.value), all > 0, done <= all
            {
                return ProgressReading(family: .generic, current: done, total: all, etaSeconds: eta, label: key)
            }
            if Self.percentKeys.contains(lowered) {
                let number = line.hasSuffix(pair.value, "%") ? pair.value.dropLast() : pair.value
                if let percent = line.wholeNumber(number), percent <= 100 {
                    return .percentOnly(.generic, percent: percent, etaSeconds: eta)
                }
            }
        }
        return nil
    }

    /// ffmpeg's `time=` in a stats line (with `size=`, `Lsize=` or `frame=` beside it), or `out_time=` alone.
    private func mediaTimeReading(_ pairs: [Pair], in line: ScannedLine) -> ProgressReading? {
        var time: Double?
        var speed: Double?
        var isStats = false
        var isLast = false
        for pair in pairs {
            if line.equals(pair.key, "time") || line.equals(pair.key, "out_time") {
                time = line.clock(pair.value)
                if line.equals(pair.key, "out_time") { isStats = true }
            } else if line.equals(pair.key, "speed"), line.hasSuffix(pair.value, "x") {
                speed = line.wholeNumber(pair.value.lowerBound..<(pair.value.upperBound - 1))
            } else if line.equals(pair.key, "Lsize") {
                isStats = true
                isLast = true  // ffmpeg's final report
            } else if line.equals(pair.key, "size") || line.equals(pair.key, "frame") {
                isStats = true
            }
        }
        guard isStats, var current = time else { return nil }
        var eta: Double?
        if let total = mediaDuration {
            if isLast { current = total }
            if let speed, speed > 0 { eta = RateEstimator.secondsLeft(current: current, total: total, rate: speed) }
        }
        return ProgressReading(
            family: .ffmpeg, current: current, total: mediaDuration, unit: "s", rate: speed, etaSeconds: eta)
    }

    /// `key=value` pairs; ffmpeg pads values after the `=` (`frame=  150`), which puts them in the next token.
    private static func pairs(in line: ScannedLine) -> [Pair] {
        var pairs: [Pair] = []
        let tokens = line.tokens
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            guard let equals = line.firstIndex(of: UInt8(ascii: "="), in: token), equals > token.lowerBound else {
                continue
            }
            var value = (equals + 1)..<token.upperBound
            if value.isEmpty, index < tokens.count, line.firstIndex(of: UInt8(ascii: "="), in: tokens[index]) == nil {
                value = tokens[index]
                index += 1
            }
            if !value.isEmpty { pairs.append(Pair(key: token.lowerBound..<equals, value: value)) }
        }
        return pairs
    }
}
