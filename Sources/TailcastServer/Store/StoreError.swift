import NIOSSL
import PostgresNIO

/// Why the store could not do what was asked, said in a line an operator can act on.
public enum StoreError: Error, CustomStringConvertible {
    /// The database was migrated by a newer tailcast.
    case newerSchema(Int)
    /// No answer within the statement timeout (plus a margin): the database or the route to it is down.
    case timedOut(Duration)
    /// A job record inserted or found a moment ago is gone (deleted by another node meanwhile).
    case vanished(String)

    public var description: String {
        switch self {
        case .newerSchema(let version):
            "the database has schema version \(version), newer than this tailcast's \(Migrations.current): upgrade tailcast"
        case .timedOut(let limit): "no answer within \(limit)"
        case .vanished(let id): "job \"\(id)\" was deleted meanwhile"
        }
    }

    /// PostgresNIO keeps server messages out of its errors' descriptions (they may hold data); the
    /// server's message and SQLSTATE, or the connection failure, are what tell an operator what is wrong.
    public static func describe(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            return self.describe(transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? transaction.rollbackError ?? error)
        }
        guard let psql = error as? PSQLError else { return "\(error)" }
        if let info = psql.serverInfo, let message = info[.message] {
            return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        if psql.code == .sslUnsupported { return "the server does not offer TLS, which this sslmode requires" }
        if let underlying = psql.underlying { return self.describeTLS(underlying) ?? "\(psql.code): \(underlying)" }
        return "\(psql.code)"
    }

    /// A TLS failure said in the URL's terms (what to check), rather than as BoringSSL's error stack.
    private static func describeTLS(_ error: any Error) -> String? {
        switch error {
        case NIOSSLError.handshakeFailed(let inner) where "\(inner)".contains("CERTIFICATE_VERIFY_FAILED"):
            // BoringSSL's error stack does not say which check failed; these are the ones an operator can fix.
            "TLS: the server's certificate failed verification: it is not signed by a CA in sslrootcert (without sslrootcert, the system's), or is out of its validity dates"
        case let extra as NIOSSLExtraError where extra == .failedToValidateHostname:
            "TLS: the server's certificate failed verification: it is not for this host (sslmode=verify-full)"
        case NIOSSLError.handshakeFailed(let inner): "TLS handshake failed: \(inner)"
        default: nil
        }
    }
}
