import Logging
import TailcastProtocol

/// Whether a request may reach a job at all: not from another site's page, not to a host name a
/// rebinding page could use, and with a token that has the role. Decided from header values only, so
/// the HTTP API (`AccessMiddleware`) and WebSocket upgrades (`UpgradeAdmissionHandler`, before NIO's
/// upgrader) refuse alike, with the same status and reason.
struct Admission: Sendable {
    let access: AccessTokens
    let originGuard: RequestOriginGuard
    let tls: Bool

    struct Refusal: Error, Equatable {
        /// 401 or 403.
        var status: Int
        var message: String
        var wwwAuthenticate: String?
        /// For the log: the reason without the advice.
        var why: String
    }

    /// The role a request needs, or nil when it needs no check (`/healthz`, `/metrics`). Deleting a job
    /// takes the publish role (and `Hub.remove` wants the token that created the job): reading a job
    /// must never be enough to destroy it.
    static func role(forPath path: String, method: String = "GET") -> AccessTokens.Role? {
        let path = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if path == Wire.publishPath { return .publish }
        if method == "DELETE" && path.hasPrefix("/v1/jobs/") { return .publish }
        if path == Wire.watchPath || path == "/v1/jobs" || path.hasPrefix("/v1/jobs/") { return .watch }
        return nil
    }

    /// `cookie`: the `Cookie` header; the browser viewer's watch token (`WatchCookie`) stands in for a
    /// missing `Authorization` when watching.
    func check(role: AccessTokens.Role, host: String?, origin: String?, authorization: String?, cookie: String? = nil) -> Refusal? {
        let authorization = authorization ?? (role == .watch ? WatchCookie.authorization(cookie: cookie) : nil)
        if case .refused(let why) = self.originGuard.decide(host: host, origin: origin, tls: self.tls) {
            return Refusal(status: 403, message: why, why: why)
        }
        switch self.access.decide(authorization: authorization, for: role) {
        case .allowed:
            return nil
        case .missing:
            return Refusal(
                status: 401, message: "this server needs a token: give --token or set TAILCAST_TOKEN (Authorization: Bearer TOKEN)",
                wwwAuthenticate: "Bearer", why: "no token")
        case .unknown:
            return Refusal(
                status: 401, message: "the server does not know this token", wwwAuthenticate: "Bearer error=\"invalid_token\"",
                why: "unknown token")
        case .forbidden(let role):
            return Refusal(status: 403, message: "this token may not \(role.rawValue)", why: "token without the \(role.rawValue) role")
        }
    }

    /// Logs a refusal once, with the path escaped (it comes from the client). Tokens are never logged.
    static func log(_ refusal: Refusal, path: String, logger: Logger, level: Logger.Level = .notice) {
        logger.log(level: level, "refused a connection to \(String(path.prefix(200)).debugDescription): \(refusal.why)")
    }
}
