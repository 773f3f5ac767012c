import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOSSL
import Synchronization
import TailcastProtocol
import WSClient

extension ServerEndpoint {
    /// Connects once to one of the server's WebSocket paths, with the subprotocol, token, TLS trust,
    /// proxy and keep-alive of this endpoint, and runs `handler` on the connection until it ends.
    /// A refusal the server gives over HTTP (401, 403) is thrown as `ConnectionRefused`.
    ///
    /// The server's first answer (the handler calls `answered` when it has it) must come within a
    /// deadline: swift-websocket 1.6.2 waits forever when a peer closes before answering the upgrade
    /// (plain ws:// to a TLS port, a proxy that hangs up), and sometimes when a refusal (error, close,
    /// FIN) arrives while the client is sending its first message; a client must never hang on that.
    public func connect(
        path: String, extensions: [WebSocketExtensionFactory], logger: Logger,
        handler: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, WebSocketClient.Context, _ answered: @escaping @Sendable () -> Void) async throws -> Void
    ) async throws {
        // As patient as the ping check, within 2-10 s.
        let handshakeTimeout = min(max(self.pingInterval * 2, .seconds(2)), .seconds(10))
        let attempt = ConnectionAttempt()
        let client = try self.webSocket(path: path, extensions: extensions, logger: logger) { inbound, outbound, context in
            try await handler(inbound, outbound, context, { attempt.upgraded() })
        }
        // The connection and its handler on one thread (`ConnectionLoop`).
        let run = Task(executorPreference: ConnectionLoop.shared) {
            do {
                try await client.run()
                attempt.finish(with: .success(()))
            } catch {
                attempt.finish(with: .failure(error))
            }
        }
        let deadline = Task {
            try await Task.sleep(for: handshakeTimeout)
            if attempt.timeOut() { run.cancel() }
        }
        defer { deadline.cancel() }
        try await withTaskCancellationHandler {
            do {
                try await attempt.outcome()
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                // Refused before the upgrade (a token, an origin): find out why, for the person and the exit code.
                if let report = await self.refusal(of: path) { throw ConnectionRefused(report: report) }
                throw error
            }
        } onCancel: {
            // The library may not notice cancellation while it waits for an answer; we stop waiting.
            run.cancel()
            attempt.finish(with: .failure(CancellationError()))
        }
    }

    func webSocket(
        path: String, extensions: [WebSocketExtensionFactory], logger: Logger,
        handler: @escaping WebSocketDataHandler<WebSocketClient.Context>
    ) throws -> WebSocketClient {
        var headers: HTTPFields = [.secWebSocketProtocol: Wire.subprotocol]
        if let token = self.token { headers[.authorization] = "Bearer \(token)" }
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: Wire.defaultMaxMessageBytes,
            additionalHeaders: headers,
            extensions: extensions,
            // A dead peer cannot answer a close either: give up on the closing handshake quickly.
            closeTimeout: min(self.pingInterval, .seconds(5)),
            autoPing: .enabled(timePeriod: self.pingInterval)
        )
        let tls = self.usesTLS ? self.clientTLSConfiguration : nil
        let target = self.url + path
        if let (host, _) = self.hostAndPort, case .server(let proxyHost, let proxyPort, let credentials) = self.proxy.resolve(host: host, tls: self.usesTLS) {
            var connectHeaders: HTTPFields = [:]
            if let credentials { connectHeaders[.proxyAuthorization] = "Basic " + Data(credentials.utf8).base64EncodedString() }
            return WebSocketClient(
                url: target, configuration: configuration, tlsConfiguration: tls,
                proxySettings: .init(host: proxyHost, port: proxyPort, type: .http(connectHeaders: connectHeaders), timeout: .seconds(15)),
                eventLoopGroup: ConnectionLoop.shared.group, logger: logger, handler: handler
            )
        }
        return WebSocketClient(
            url: target, configuration: configuration, tlsConfiguration: tls, eventLoopGroup: ConnectionLoop.shared.group, logger: logger, handler: handler)
    }

    /// A short reason a person can act on, for a failed connection attempt.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? WebSocketClientError {
            switch error {
            case .webSocketUpgradeFailed: return "the server did not accept a WebSocket upgrade (is this a tailcast server?)"
            case .proxyHandshakeFailed, .proxyHandshakeInvalidResponse: return "the proxy refused the tunnel (\(error))"
            case .proxyHandshakeTimeout: return "the proxy did not answer"
            default: return "\(error)"
            }
        }
        if let error = error as? NIOSSLError {
            switch error {
            case .handshakeFailed(let inner):
                if "\(inner)".contains("CERTIFICATE_VERIFY_FAILED") {
                    return "the server's TLS certificate is not trusted (give its CA with --ca) or is for another name"
                }
                return "TLS handshake failed: \(inner)"
            default: return "TLS: \(error)"
            }
        }
        let text = "\(error)"
        if text.contains("connectTimeout") || text.localizedCaseInsensitiveContains("connection refused") { return "connection refused" }
        if text.contains("certificate") || text.contains("CERTIFICATE") { return "TLS: \(text.prefix(200))" }
        return String(text.prefix(200))
    }
}

public enum ConnectionError: Error, CustomStringConvertible {
    case handshakeTimeout
    public var description: String {
        "no answer in time (a TLS server reached with ws://, or a proxy or route that swallows the connection?)"
    }
}

/// One connection attempt's outcome: the client's own, or a timeout if the upgrade never came.
private final class ConnectionAttempt: Sendable {
    private struct State {
        var upgraded = false
        var result: Result<Void, any Error>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = Mutex(State())

    func upgraded() {
        self.state.withLock { $0.upgraded = true }
    }

    func finish(with result: Result<Void, any Error>) {
        self.settle(result)
    }

    /// True when the attempt timed out (no answer yet).
    func timeOut() -> Bool {
        self.settle(.failure(ConnectionError.handshakeTimeout), onlyIfNotUpgraded: true)
    }

    func outcome() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let ready = self.state.withLock { state -> Result<Void, any Error>? in
                if state.result == nil { state.waiter = continuation }
                return state.result
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    @discardableResult
    private func settle(_ result: Result<Void, any Error>, onlyIfNotUpgraded: Bool = false) -> Bool {
        let (settled, waiter) = self.state.withLock { state -> (Bool, CheckedContinuation<Void, any Error>?) in
            guard state.result == nil, !(onlyIfNotUpgraded && state.upgraded) else { return (false, nil) }
            state.result = result
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(with: result)
        return settled
    }
}
