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
        if let underlying = psql.underlying { return "\(psql.code): \(underlying)" }
        return "\(psql.code)"
    }
}
