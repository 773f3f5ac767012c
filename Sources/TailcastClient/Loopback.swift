#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a host is this machine for certain: what may go there without TLS (tokens) and what
/// `serve` may listen on without tokens. The host is parsed as an address, never matched as text:
/// `127.evil.example` is a name anyone may point anywhere.
public enum Loopback {
    /// An IPv4 address in 127.0.0.0/8, `::1` (brackets allowed, as in URLs), an IPv4-mapped IPv6
    /// address of 127.0.0.0/8, or the name `localhost`.
    public static func contains(host: String) -> Bool {
        var v6 = in6_addr()
        if host.hasPrefix("[") && host.hasSuffix("]") {
            // Brackets hold an IPv6 address, nothing else.
            guard inet_pton(AF_INET6, String(host.dropFirst().dropLast()), &v6) == 1 else { return false }
        } else {
            if host.lowercased() == "localhost" { return true }
            var v4 = in_addr()
            if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
            guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        return bytes[..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }
}
