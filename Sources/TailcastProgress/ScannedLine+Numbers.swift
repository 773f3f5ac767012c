/// Numbers, percentages and durations as progress displays print them.
extension ScannedLine {
    private static let powersOfTen: [Double] = (0...18).map { exponent in
        (0..<exponent).reduce(1.0) { power, _ in power * 10 }
    }

    /// A decimal such as `48.0` or, when allowed, `50,331,648`, starting at `start`: its value and the index after it.
    func number(at start: Int, upTo end: Int, allowingCommas: Bool = false) -> (value: Double, end: Int)? {
        var index = start
        var mantissa: UInt64 = 0
        var digits = 0
        while index < end {
            let byte = bytes[index]
            if Ascii.isDigit(byte) {
                mantissa = mantissa &* 10 &+ UInt64(byte - 0x30)
                digits += 1
                index += 1
            } else if allowingCommas && byte == Ascii.comma && digits > 0 && index + 1 < end
                && Ascii.isDigit(bytes[index + 1])
            {
                index += 1
            } else {
                break
            }
        }
        guard digits > 0 else { return nil }
        var fractionDigits = 0
        if index + 1 < end && bytes[index] == Ascii.dot && Ascii.isDigit(bytes[index + 1]) {
            index += 1
            while index < end && Ascii.isDigit(bytes[index]) {
                mantissa = mantissa &* 10 &+ UInt64(bytes[index] - 0x30)
                fractionDigits += 1
                index += 1
            }
        }
        guard digits + fractionDigits <= 18 else { return nil }  // beyond that the mantissa would overflow
        return (Double(mantissa) / Self.powersOfTen[fractionDigits], index)
    }

    /// The number that is exactly `range`.
    func wholeNumber(_ range: Range<Int>, allowingCommas: Bool = false) -> Double? {
        guard let parsed = number(at: range.lowerBound, upTo: range.upperBound, allowingCommas: allowingCommas),
            parsed.end == range.upperBound
        else { return nil }
        return parsed.value
    }

    /// Where the digits and dots that end just before `end` begin.
    func numberStart(endingAt end: Int) -> Int {
        var start = end
        while start > 0 && (Ascii.isDigit(bytes[start - 1]) || bytes[start - 1] == Ascii.dot) { start -= 1 }
        return start
    }

    /// `45%` or `45.5%`, at most 100.
    func percent(_ range: Range<Int>) -> Double? {
        guard range.count >= 2, bytes[range.upperBound - 1] == Ascii.percent,
            let value = wholeNumber(range.lowerBound..<(range.upperBound - 1)), value <= 100
        else { return nil }
        return value
    }

    /// `mm:ss` or `h:mm:ss` in seconds, with a fraction as ffmpeg writes it (`00:00:05.96`); nil for placeholders
    /// such as `?`, `--:--:--` or `-:--:--`.
    func clock(_ range: Range<Int>) -> Double? {
        var seconds = 0.0
        var fields = 0
        var index = range.lowerBound
        while true {
            var value = 0.0
            let fieldStart = index
            while index < range.upperBound && Ascii.isDigit(bytes[index]) {
                value = value * 10 + Double(bytes[index] - 0x30)
                index += 1
            }
            guard index > fieldStart else { return nil }
            seconds = seconds * 60 + value
            fields += 1
            if index == range.upperBound { break }
            if bytes[index] == Ascii.dot, fields >= 2 {
                guard let fraction = number(at: fieldStart, upTo: range.upperBound), fraction.end == range.upperBound
                else { return nil }
                return seconds - value + fraction.value
            }
            guard bytes[index] == Ascii.colon, fields < 3 else { return nil }
            index += 1
        }
        return fields >= 2 ? seconds : nil
    }

    /// wget's durations: `4s`, `4.8s`, `1m2s`, `1h5m`, `2d3h`.
    func compactDuration(_ range: Range<Int>) -> Double? {
        var seconds = 0.0
        var index = range.lowerBound
        while index < range.upperBound {
            guard let parsed = number(at: index, upTo: range.upperBound), parsed.end < range.upperBound else {
                return nil
            }
            let unit: Double
            switch bytes[parsed.end] {
            case UInt8(ascii: "s"): unit = 1
            case UInt8(ascii: "m"): unit = 60
            case UInt8(ascii: "h"): unit = 3600
            case UInt8(ascii: "d"): unit = 86400
            default: return nil
            }
            seconds += parsed.value * unit
            index = parsed.end + 1
        }
        return index > range.lowerBound ? seconds : nil
    }
}
