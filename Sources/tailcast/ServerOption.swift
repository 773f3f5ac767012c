import ArgumentParser
import Foundation
import TailcastClient
import TailcastProtocol

/// How clients reach the server: `--server`, `--token` or `--token-file`, `--ca`, `--proxy`, with
/// environment defaults.
struct ServerOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Server to talk to: ws:// or wss:// URL, http:// or https:// (the same server), or host:port (env TAILCAST_SERVER).", valueName: "url"))
    var server: String = ProcessInfo.processInfo.environment["TAILCAST_SERVER"] ?? "ws://127.0.0.1:7070"

    @Option(name: .long, help: ArgumentHelp("Token for a server that requires one (env TAILCAST_TOKEN, which keeps it out of `ps`).", valueName: "token"))
    var token: String?

    /// Read once, while the arguments are parsed: a file others may read, or that holds more than the
    /// token, is a usage error before anything connects.
    @Option(name: .customLong("token-file"), help: ArgumentHelp(
        "File holding the token alone; only its owner may read it (chmod 600), as ssh wants of keys.", valueName: "file"),
        transform: { try TokenFile.read($0) })
    var tokenFromFile: String?

    @Option(name: .customLong("ca"), help: ArgumentHelp("PEM file of a certificate authority to trust for wss:// besides the system's.", valueName: "file"))
    var certificateAuthority: String?

    @Option(name: .long, help: ArgumentHelp(
        "HTTP proxy to tunnel through with CONNECT: http://host:port, or none. Default: https_proxy/HTTPS_PROXY for wss://, http_proxy for ws://, except hosts in NO_PROXY.",
        valueName: "url"))
    var proxy: String?

    func validate() throws {
        guard let url = URL(string: self.webSocketURL), ["ws", "wss"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            throw ValidationError("--server must be a ws://, wss://, http:// or https:// URL, or host:port, like ws://127.0.0.1:7070 (got \"\(self.server)\")")
        }
        if url.scheme?.lowercased() == "wss", let host = url.host, host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) {
            throw ValidationError("--server wss:// needs the host name the certificate was issued for, not an IP address (got \(host))")
        }
        if let proxy = self.proxy, ProxyChoice(argument: proxy) == nil {
            throw ValidationError("--proxy must be http://host:port or none (got \"\(proxy)\")")
        }
        if let file = self.certificateAuthority, !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--ca: cannot read \(file)")
        }
        if self.token != nil && self.tokenFromFile != nil { throw ValidationError("give --token or --token-file, not both") }
        if let token = self.resolvedToken, token.isEmpty || token.contains(where: { $0.isWhitespace || !$0.isASCII }) {
            throw ValidationError("--token (or TAILCAST_TOKEN) must be printable ASCII without spaces")
        }
        // Once per command: validation runs once, the endpoint is built again for every connection.
        if self.endpoint.sendsTokenInTheClear {
            notice("warning: the token goes to \(self.endpoint.hostAndPort?.host ?? self.server) over plain ws://, readable by anyone on the way; use wss:// (serve --tls-cert/--tls-key)")
        }
    }

    /// `--server` as a WebSocket URL: the server answers HTTP and WebSocket on one port, so `http://`
    /// means `ws://` and `https://` means `wss://`; a bare `host:port` is `ws://host:port` (a bare host,
    /// the default port 7070).
    var webSocketURL: String {
        let lowered = self.server.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") { return "ws" + self.server.dropFirst(4) }
        guard !self.server.contains("://") else { return self.server }
        let url = "ws://" + self.server
        return URLComponents(string: url)?.port == nil ? url + ":7070" : url
    }

    var resolvedToken: String? { self.token ?? self.tokenFromFile ?? ProcessInfo.processInfo.environment["TAILCAST_TOKEN"] }

    var endpoint: ServerEndpoint {
        let environment = ProcessInfo.processInfo.environment
        // Hidden knob for tests and for networks that drop idle routes silently: ping (and so notice a
        // dead connection) more often than every 20 s.
        let ping = environment["TAILCAST_PING_INTERVAL"].flatMap(Double.init).map { max($0, 0.1) } ?? 20
        return ServerEndpoint(
            url: self.webSocketURL, token: self.resolvedToken, certificateAuthorityFile: self.certificateAuthority,
            proxy: self.proxy.flatMap(ProxyChoice.init(argument:)) ?? .environment,
            pingInterval: .milliseconds(Int(ping * 1000))
        )
    }

    /// The URL without a trailing slash, for messages.
    var url: String { self.endpoint.url }
}

/// Where per-user state lives: $XDG_STATE_HOME, else ~/.local/state (spools, sidecar checkpoints).
func stateHome() -> String {
    let environment = ProcessInfo.processInfo.environment
    return environment["XDG_STATE_HOME"] ?? ((environment["HOME"] ?? NSTemporaryDirectory()) + "/.local/state")
}

/// Messages from tailcast itself go to stderr, prefixed, so they never mix into a job's output. They
/// quote file names, job metadata and the server's error texts, which others wrote: one line each,
/// with their control characters escaped.
func notice(_ message: String) {
    FileHandle.standardError.write(Data("tailcast: \(message.escapingControlCharacters)\n".utf8))
}
