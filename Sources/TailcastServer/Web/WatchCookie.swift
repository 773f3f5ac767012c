import Foundation

/// The browser viewer's watch token, kept in an HttpOnly, SameSite=Strict cookie so page scripts never hold
/// it and other sites' requests never carry it. It is never put in a URL and never logged. The server takes
/// it in place of `Authorization: Bearer` for watching only.
enum WatchCookie {
    static let name = "tailcast_watch"

    /// The token in a `Cookie` header, as an `Authorization` value, or nil.
    static func authorization(cookie: String?) -> String? {
        guard let cookie else { return nil }
        for pair in cookie.split(separator: ";") {
            let fields = pair.split(separator: "=", maxSplits: 1)
            guard fields.count == 2, fields[0].trimmingCharacters(in: .whitespaces) == Self.name,
                let token = fields[1].trimmingCharacters(in: .whitespaces).removingPercentEncoding, !token.isEmpty
            else { continue }
            return "Bearer " + token
        }
        return nil
    }

    /// `Set-Cookie` for `token` (percent-encoded: a token may hold `;`, which a cookie value cannot).
    static func setCookie(token: String, tls: Bool) -> String {
        let value = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "\(Self.name)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000" + (tls ? "; Secure" : "")
    }

    static func clearCookie(tls: Bool) -> String {
        "\(Self.name)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (tls ? "; Secure" : "")
    }
}
