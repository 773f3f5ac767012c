/// Scaled quantities: `48.0M`, `10.0MiB`, `16.9 MB`, `10.3MB/s`. Programs disagree on what `M` means, so callers say
/// which base a bare prefix (`M`, `MB`) has for them; `MiB` is always 1024-based.
extension ScannedLine {
    /// The multiplier for an SI prefix letter (`k`/`K`, `M`, `G`, `T`, `P`, `E`) in `base`.
    static func prefixScale(_ letter: UInt8, base: Double) -> Double? {
        let exponent: Int
        switch letter {
        case UInt8(ascii: "k"), UInt8(ascii: "K"): exponent = 1
        case UInt8(ascii: "M"): exponent = 2
        case UInt8(ascii: "G"): exponent = 3
        case UInt8(ascii: "T"): exponent = 4
        case UInt8(ascii: "P"): exponent = 5
        case UInt8(ascii: "E"): exponent = 6
        default: return nil
        }
        return (0..<exponent).reduce(1.0) { scale, _ in scale * base }
    }

    /// Nothing (1) or a single prefix letter, as curl, wget and tqdm suffix their numbers.
    func prefixMultiplier(_ range: Range<Int>, base: Double) -> Double? {
        switch range.count {
        case 0: return 1
        case 1: return Self.prefixScale(bytes[range.lowerBound], base: base)
        default: return nil
        }
    }

    /// A byte unit: `B`, `bytes`, `kB`…`EB` in `plainPrefixBase`, `KiB`…`EiB` in 1024.
    func byteUnitMultiplier(_ range: Range<Int>, plainPrefixBase: Double) -> Double? {
        if equals(range, "B") || equals(range, "bytes") || equals(range, "byte") { return 1 }
        switch range.count {
        case 2 where bytes[range.upperBound - 1] == UInt8(ascii: "B"):
            return Self.prefixScale(bytes[range.lowerBound], base: plainPrefixBase)
        case 3 where hasSuffix(range, "iB"):
            return Self.prefixScale(bytes[range.lowerBound], base: 1024)
        default:
            return nil
        }
    }

    /// A number with an optional prefix letter glued on: `48.0M`, `7360k`, `0`, `50,331,648` (with commas).
    func scaledNumber(_ range: Range<Int>, base: Double, allowingCommas: Bool = false) -> Double? {
        guard let parsed = number(at: range.lowerBound, upTo: range.upperBound, allowingCommas: allowingCommas),
            let multiplier = prefixMultiplier(parsed.end..<range.upperBound, base: base)
        else { return nil }
        return parsed.value * multiplier
    }

    /// A number with a byte unit, glued on or after a space: `10.0MiB`, `9.21MB`, `0.00 B`.
    func byteQuantity(_ range: Range<Int>, plainPrefixBase: Double) -> Double? {
        guard let parsed = number(at: range.lowerBound, upTo: range.upperBound),
            let multiplier = byteUnitMultiplier(
                trimmed(parsed.end..<range.upperBound), plainPrefixBase: plainPrefixBase)
        else { return nil }
        return parsed.value * multiplier
    }

    /// Bytes per second written as one token: `10.01MB/s`.
    func byteRate(_ range: Range<Int>, plainPrefixBase: Double) -> Double? {
        guard hasSuffix(range, "/s") else { return nil }
        return byteQuantity(range.lowerBound..<(range.upperBound - 2), plainPrefixBase: plainPrefixBase)
    }

    /// A number and a byte unit written as two tokens: `31.2` `MB`, `8,114.0` `KiB` (with commas).
    func byteQuantity(value: Range<Int>, unit: Range<Int>, plainPrefixBase: Double, allowingCommas: Bool = false) -> Double? {
        guard let number = wholeNumber(value, allowingCommas: allowingCommas),
            let multiplier = byteUnitMultiplier(unit, plainPrefixBase: plainPrefixBase)
        else { return nil }
        return number * multiplier
    }

    /// Bytes per second written as two tokens: `3.1` `MB/s`.
    func byteRate(value: Range<Int>, unit: Range<Int>, plainPrefixBase: Double) -> Double? {
        guard hasSuffix(unit, "/s") else { return nil }
        return byteQuantity(value: value, unit: unit.lowerBound..<(unit.upperBound - 2), plainPrefixBase: plainPrefixBase)
    }
}
