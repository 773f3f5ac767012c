import Foundation

/// Where the shared store lives (`serve --store`):
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=MODE][&sslrootcert=PATH]`, or `postgresql://`.
/// Parsed up front so that a typo stops the server with a line that names it, never later as a
/// connection error.
public struct StoreURL: Equatable, Sendable, CustomStringConvertible {
    /// libpq's names, so a URL copied from another PostgreSQL client means the same here.
    public enum SSLMode: String, CaseIterable, Sendable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is not checked (libpq's meaning of `require`), unless
        /// `sslrootcert` is given: then, as libpq does, its chain is checked as with `verify-ca`.
        case require
        /// TLS, with the certificate's chain checked against the trusted CAs, but not the name it is for.
        case verifyCA = "verify-ca"
        /// TLS, with the certificate's chain checked and issued for the host in the URL.
        case verifyFull = "verify-full"

        /// The modes that may check a certificate, and so may be given CAs to check it with.
        var checksCertificates: Bool { self == .require || self == .verifyCA || self == .verifyFull }
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode
    /// A PEM file of the CAs to trust instead of the system's (libpq's `sslrootcert`).
    public var sslRootCert: String?

    public static let defaultPort = 5432

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public init(parsing text: String) throws(Invalid) {
        func invalid(_ why: String) -> Invalid {
            Invalid(description: "--store: \(why); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=disable|prefer|require|verify-ca|verify-full][&sslrootcert=CA.pem]")
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw invalid("only postgres:// and postgresql:// URLs are supported")
        }
        guard let components = URLComponents(string: text) else { throw invalid("not a URL") }
        guard let user = components.user, !user.isEmpty else { throw invalid("the URL names no user") }
        guard let host = components.host, !host.isEmpty else { throw invalid("the URL names no host") }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { throw invalid("the URL names no database (…/DB)") }
        if let port = components.port, !(1...65535).contains(port) { throw invalid("port \(port) is out of range") }
        var mode = SSLMode.prefer
        var rootCert: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw invalid("unknown sslmode \"\((item.value ?? "").prefix(40))\"")
                }
                mode = value
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else { throw invalid("sslrootcert names no file") }
                rootCert = path
            default:
                throw invalid("unknown parameter \"\(item.name.prefix(40))\"")
            }
        }
        // `prefer` would fall back to plain TCP for whoever answers without TLS: CAs given there would
        // promise a check that an attacker can skip.
        if rootCert != nil && !mode.checksCertificates {
            throw invalid("sslrootcert needs sslmode=verify-full, verify-ca or require (got \(mode.rawValue))")
        }
        self.user = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? Self.defaultPort
        self.database = database.removingPercentEncoding ?? database
        self.sslMode = mode
        self.sslRootCert = rootCert
    }

    /// The URL without its password and query: what logs, `--check` and `/healthz` show.
    public var description: String {
        "postgres://\(self.user)@\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)/\(self.database)"
    }
}
