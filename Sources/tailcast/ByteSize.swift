/// Sizes as people write them: "1048576", "500K", "500M", "2G", "1T" (powers of 1024; a trailing "B" or
/// "iB" is allowed, so "2GiB" and "2GB" are the same 2 GiB).
enum ByteSize {
    static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text.uppercased())
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        let shift: UInt64
        switch digits.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        case "T": shift = 40
        default: shift = 0
        }
        if shift > 0 { digits = digits.dropLast() }
        guard let value = UInt64(digits), value <= UInt64.max >> shift else { return nil }
        return value << shift
    }
}
