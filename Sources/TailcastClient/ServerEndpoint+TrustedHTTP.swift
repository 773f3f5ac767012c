import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A plain HTTP(S) request that could not be made the way the endpoint says.
public enum TrustedHTTPError: Error, CustomStringConvertible {
    case throughProxy(host: String, port: Int)
    case noAnswer
    case timedOut(Double)

    public var description: String {
        switch self {
        case .throughProxy(let host, let port):
            "with --ca, plain HTTPS requests go straight to the server, not through a proxy (the proxy variables name \(host):\(port)): set NO_PROXY for the server's host"
        case .noAnswer: "the server closed the connection without an answer"
        case .timedOut(let seconds): "no answer within \(Int(seconds)) s"
        }
    }
}

extension ServerEndpoint {
    /// One HTTP/1.1 request over swift-nio, with the TLS trust of the WebSocket clients (the system's certificate
    /// authorities and `--ca`), which FoundationNetworking cannot be given on Linux. It connects directly: a proxy
    /// the environment names for the host is refused with a reason, not silently bypassed.
    func trustedHTTPRequest(_ method: String, path: String, timeout: Double) async throws -> (status: Int, body: Data) {
        guard let (host, port) = self.hostAndPort, let target = URL(string: self.httpURL + path) else {
            throw URLError(.badURL)
        }
        if case .server(let proxyHost, let proxyPort, _) = self.proxy.resolve(host: host, tls: self.usesTLS) {
            throw TrustedHTTPError.throughProxy(host: proxyHost, port: proxyPort)
        }
        let sslContext = self.usesTLS ? try NIOSSLContext(configuration: self.clientTLSConfiguration) : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        // The deadline closes the channel, which ends the read below.
        let started = ContinuousClock.now
        let deadline = Task {
            try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target.path + (target.query.map { "?" + $0 } ?? ""))
        head.headers.add(name: "Host", value: port == (self.usesTLS ? 443 : 80) ? host : "\(host):\(port)")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Length", value: "0")
        if let token = self.token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let answer: (status: Int, body: Data)? = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            var status: Int?
            var body = Data()
            for try await part in inbound {
                switch part {
                case .head(let response): status = Int(response.status.code)
                case .body(let bytes): body.append(contentsOf: bytes.readableBytesView)
                case .end: return status.map { ($0, body) }
                }
            }
            return nil
        }
        guard let answer else {
            let late = ContinuousClock.now - started >= .milliseconds(Int64(timeout * 1000))
            throw late ? TrustedHTTPError.timedOut(timeout) : TrustedHTTPError.noAnswer
        }
        return answer
    }
}
