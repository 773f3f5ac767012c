import Foundation

/// Which HTTP proxy (tunnelled with CONNECT) a client goes through.
public enum ProxyChoice: Sendable, Equatable {
    /// No proxy, whatever the environment says.
    case direct
    /// This proxy; `credentials` ("user:password", from the URL) go in `Proxy-Authorization: Basic`.
    case server(host: String, port: Int, credentials: String? = nil)
    /// The usual variables: `https_proxy`/`HTTPS_PROXY` for wss://, `http_proxy` for ws://
    /// (lowercase only, as curl does, because `HTTP_PROXY` can be set by a CGI request header),
    /// skipped for hosts matched by `no_proxy`/`NO_PROXY`.
    case environment

    /// Parses `--proxy`: `http://host:port`, `host:port`, or `none`/`direct` for no proxy.
    public init?(argument: String) {
        if ["none", "direct"].contains(argument.lowercased()) {
            self = .direct
            return
        }
        guard let proxy = Self.parse(argument) else { return nil }
        self = proxy
    }

    /// The proxy to use for `host` given `environment` (never `.environment`), or nil to connect directly.
    public func resolve(host: String, tls: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) -> ProxyChoice? {
        switch self {
        case .direct:
            return nil
        case .server:
            return self
        case .environment:
            let variable = tls ? (environment["https_proxy"] ?? environment["HTTPS_PROXY"]) : environment["http_proxy"]
            guard let value = variable, !value.isEmpty else { return nil }
            if let exclusions = environment["no_proxy"] ?? environment["NO_PROXY"], Self.excludes(exclusions, host: host) { return nil }
            return Self.parse(value)
        }
    }

    /// `no_proxy` is a comma-separated list of host names, domain suffixes (`.example.com` or
    /// `example.com`, which both match subdomains), IP addresses, or `*` for everything.
    static func excludes(_ list: String, host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        for entry in list.split(separator: ",") {
            var pattern = entry.trimmingCharacters(in: .whitespaces).lowercased()
            if pattern.isEmpty { continue }
            if pattern == "*" { return true }
            if let colon = pattern.lastIndex(of: ":"), !pattern.contains("]"), pattern.filter({ $0 == ":" }).count == 1 {
                pattern = String(pattern[..<colon])
            }
            if pattern.hasPrefix(".") { pattern.removeFirst() }
            if host == pattern || host.hasSuffix("." + pattern) { return true }
        }
        return false
    }

    static func parse(_ value: String) -> ProxyChoice? {
        let text = value.contains("://") ? value : "http://" + value
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "http",
            let host = components.host, !host.isEmpty
        else { return nil }
        let credentials = components.percentEncodedUser.map { user in
            (user.removingPercentEncoding ?? user) + ":" + (components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "")
        }
        return .server(host: host, port: components.port ?? 80, credentials: credentials)
    }
}
