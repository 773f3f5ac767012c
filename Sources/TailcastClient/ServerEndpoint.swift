import Foundation

/// How a client reaches a tailcast server: its address, the token it shows, whom it trusts for TLS,
/// the proxy it goes through and how often it checks the connection is alive. Agents and watchers
/// share it, so every client connects the same way.
public struct ServerEndpoint: Sendable {
    /// `ws://` or `wss://` base URL, without a trailing slash.
    public var url: String
    /// Sent as `Authorization: Bearer TOKEN`; never logged.
    public var token: String?
    /// PEM file of extra certificate authorities trusted for `wss://` (besides the system's).
    public var certificateAuthorityFile: String?
    public var proxy: ProxyChoice
    /// Ping this often; a connection whose pong has not come back by the next ping is dead
    /// (a black-holed route never errors on its own).
    public var pingInterval: Duration

    public init(url: String, token: String? = nil, certificateAuthorityFile: String? = nil, proxy: ProxyChoice = .environment, pingInterval: Duration = .seconds(20)) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.token = token
        self.certificateAuthorityFile = certificateAuthorityFile
        self.proxy = proxy
        self.pingInterval = pingInterval
    }

    public var usesTLS: Bool { self.url.lowercased().hasPrefix("wss://") }

    /// Host and port of the server, from the URL (default ports 80 and 443).
    public var hostAndPort: (host: String, port: Int)? {
        guard let components = URLComponents(string: self.url), let host = components.host, !host.isEmpty else { return nil }
        return (host, components.port ?? (self.usesTLS ? 443 : 80))
    }

    /// A token would cross the network readable by anyone on the way: plain ws:// to a host that is
    /// not certainly this machine.
    public var sendsTokenInTheClear: Bool {
        guard self.token != nil, !self.usesTLS, let (host, _) = self.hostAndPort else { return false }
        return !Loopback.contains(host: host)
    }
}
