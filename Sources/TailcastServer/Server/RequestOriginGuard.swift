import Foundation
import TailcastProtocol

/// Keeps web pages out. A browser sends any site's requests to a server the user can reach, with the
/// page's `Origin`; and through DNS rebinding a page's own host name can point at 127.0.0.1. So:
/// - a request with a browser origin (`http(s)://…`, or `null`) is served only when that origin is the
///   server's own (the `Host` it was sent to) or one given with `serve --allow-origin`;
/// - a server without tokens (which trusts whoever connects, so listens on loopback) answers only
///   requests addressed to a loopback name, which a rebinding page cannot send.
/// Clients that are not browsers send no `Origin`, or a `ws(s)://` one (swift-websocket's client does).
public struct RequestOriginGuard: Sendable {
    public enum Decision: Equatable, Sendable {
        case allowed
        case refused(String)
    }

    /// Origins (`scheme://host[:port]`, lower case) allowed besides the server's own.
    let allowedOrigins: Set<String>
    /// Refuse `Host` values that are not loopback names (servers without tokens).
    let loopbackHostsOnly: Bool

    public init(allowedOrigins: [String] = [], loopbackHostsOnly: Bool) {
        self.allowedOrigins = Set(allowedOrigins.compactMap(Self.normalizedOrigin))
        self.loopbackHostsOnly = loopbackHostsOnly
    }

    public func decide(host: String?, origin: String?, tls: Bool) -> Decision {
        if self.loopbackHostsOnly {
            guard let host, let name = Self.hostName(ofHostHeader: host), Self.isLoopbackName(name) else {
                return .refused("this server has no tokens, so it only answers requests sent to a loopback address (Host: \((host ?? "none").debugDescription))")
            }
        }
        guard let origin else { return .allowed }
        let lowered = origin.lowercased()
        if lowered.hasPrefix("ws://") || lowered.hasPrefix("wss://") { return .allowed }
        guard let normalized = Self.normalizedOrigin(origin) else {
            return .refused("requests from web pages of origin \(origin.debugDescription) are not served")
        }
        if self.allowedOrigins.contains(normalized) { return .allowed }
        if let host, let own = Self.normalizedOrigin((tls ? "https://" : "http://") + host), own == normalized { return .allowed }
        return .refused("requests from web pages of origin \(origin.debugDescription) are not served (serve --allow-origin allows one)")
    }

    /// `scheme://host[:port]` in lower case with the default port left out, or nil for anything else
    /// (including `null`, the origin of sandboxed and file pages).
    public static func normalizedOrigin(_ origin: String) -> String? {
        guard let components = URLComponents(string: origin.lowercased()), let scheme = components.scheme,
            ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty,
            components.path.isEmpty || components.path == "/", components.query == nil, components.user == nil
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed)" + (port.map { ":\($0)" } ?? "")
    }

    /// The name part of a `Host` header: `name`, `name:port`, `[v6]` or `[v6]:port`.
    static func hostName(ofHostHeader header: String) -> String? {
        let trimmed = header.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { return nil }
            return String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
        }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty else { return nil }
        return String(name)
    }

    /// `localhost`, an IPv4 address in 127.0.0.0/8 written as four decimal numbers, or `::1`. A name
    /// that merely starts with "127." (`127.0.0.1.evil.example`) is not.
    static func isLoopbackName(_ name: String) -> Bool {
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4,
            octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 })
        else { return false }
        return octets[0] == "127"
    }
}
