import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TailcastProtocol

extension ServerEndpoint {
    /// Why the server would not upgrade a request to `path`, when it said so over HTTP. The server checks
    /// tokens and origins before the upgrade (a refused client holds no WebSocket), but swift-websocket's
    /// client reports any answer other than 101 as one error without its status; so the same request is
    /// sent once more as plain HTTP, which the server answers with 401 or 403 and a reason.
    /// nil when the answer is something else, or no answer comes within 5 s.
    public func refusal(of path: String) async -> ControlMessage.ErrorReport? {
        guard let (status, data) = try? await self.httpRequest("GET", path: path, timeout: 5) else { return nil }
        let code: ErrorCode
        switch status {
        case 401: code = .unauthorized
        case 403: code = .forbidden
        default: return nil
        }
        return .init(code: code, message: Self.reason(in: data) ?? "the server answered \(status)")
    }

    /// The server's base URL as plain HTTP(S) requests reach it: `https://` for `wss://`, `http://` for `ws://`.
    public var httpURL: String {
        self.url.lowercased().hasPrefix("ws") ? "http" + self.url.dropFirst(2) : self.url
    }

    /// One plain HTTP(S) request to the server's `path`, with the token; the status and the body.
    /// It goes through FoundationNetworking (libcurl): the system's certificate authorities and the
    /// proxy variables, not `--proxy`. With `--ca`, which libcurl cannot be given through Foundation,
    /// it goes over swift-nio with the WebSocket clients' trust, directly (`trustedHTTPRequest`).
    public func httpRequest(_ method: String, path: String, timeout: Double) async throws -> (status: Int, body: Data) {
        if self.certificateAuthorityFile != nil { return try await self.trustedHTTPRequest(method, path: path, timeout: timeout) }
        guard let url = URL(string: self.httpURL + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        if let token = self.token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let status = (response as? HTTPURLResponse)?.statusCode else { throw URLError(.badServerResponse) }
        return (status, data)
    }

    /// Hummingbird's error body, `{"error":{"message":"…"}}`, or plain text.
    public static func reason(in body: Data) -> String? {
        struct Body: Decodable {
            struct Error: Decodable { var message: String? }
            var error: Error
        }
        let text = (try? JSONDecoder().decode(Body.self, from: body))?.error.message ?? String(decoding: body.prefix(300), as: UTF8.self)
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.isEmpty ? nil : line
    }
}

/// A connection the server refused for a reason it gave.
public struct ConnectionRefused: Error, CustomStringConvertible {
    public var report: ControlMessage.ErrorReport
    public var description: String { self.report.message }
}

