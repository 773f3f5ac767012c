import Foundation

/// The environment a wrapped job gets: the agent's own, less the agent's secrets. A job that prints its
/// environment (CI scripts often do) would otherwise archive the publish token for every watcher.
public enum JobEnvironment {
    /// Variables that hold tailcast's credentials: removed.
    static let secrets: Set<String> = ["TAILCAST_TOKEN"]
    /// Proxy variables: kept (the job may need the proxy too), but without a `user:password@` part.
    static let proxies: Set<String> = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]

    public static func withoutSecrets(_ environment: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in environment where !self.secrets.contains(key) {
            result[key] = self.proxies.contains(key) ? self.withoutCredentials(value) : value
        }
        return result
    }

    /// `http://user:secret@proxy:3128` → `http://proxy:3128`; anything without credentials unchanged.
    static func withoutCredentials(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let schemeEnd = url.range(of: "://")?.upperBound ?? url.startIndex
        guard at > schemeEnd else { return url }
        return String(url[..<schemeEnd]) + String(url[url.index(after: at)...])
    }
}
