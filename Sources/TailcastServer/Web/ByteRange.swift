import Foundation

/// What a `Range` request header asks of a resource of `size` bytes (RFC 9110 14.2), decided without I/O.
/// Only one range is served: a header with several (or one this server cannot read) is ignored, as RFC 9110
/// allows, and the whole resource is sent.
enum ByteRange: Equatable {
    /// Send everything with 200.
    case full
    /// Send bytes `first...last` with 206 and `Content-Range: bytes first-last/size`.
    case partial(first: UInt64, last: UInt64)
    /// 416 with `Content-Range: bytes */size`: the range starts past the end.
    case unsatisfiable

    init(header: String?, size: UInt64) {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else {
            self = .full
            return
        }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
            self = .full
            return
        }
        switch (UInt64(parts[0]), parts[1].isEmpty ? nil : UInt64(parts[1])) {
        case (nil, let suffix?) where parts[0].isEmpty:
            // `-n`: the last n bytes; a suffix of 0 bytes selects nothing.
            guard suffix > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .partial(first: size - min(suffix, size), last: size - 1)
        case (let first?, let last):
            guard last.map({ $0 >= first }) ?? true else {
                self = .full
                return
            }
            guard first < size else {
                self = .unsatisfiable
                return
            }
            self = .partial(first: first, last: min(last ?? size - 1, size - 1))
        default:
            self = .full
        }
    }
}
