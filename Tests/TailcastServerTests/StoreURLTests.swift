import Testing

@testable import TailcastServer

@Suite struct StoreURLTests {
    @Test func aFullURLIsReadPartByPart() throws {
        let url = try StoreURL(parsing: "postgres://tailcast:s%40cret@db.internal:5433/archive?sslmode=verify-full")
        #expect(url.user == "tailcast")
        #expect(url.password == "s@cret")
        #expect(url.host == "db.internal")
        #expect(url.port == 5433)
        #expect(url.database == "archive")
        #expect(url.sslMode == .verifyFull)
        #expect(url.sslRootCert == nil)
    }

    @Test func theCAFileIsLibpqsSSLRootCert() throws {
        let url = try StoreURL(parsing: "postgres://u@db/archive?sslmode=verify-ca&sslrootcert=/etc/tailcast/db%20ca.pem")
        #expect(url.sslMode == .verifyCA)
        #expect(url.sslRootCert == "/etc/tailcast/db ca.pem")
        #expect(url.description == "postgres://u@db:5432/archive")
    }

    @Test func defaultsAreLibpqs() throws {
        let url = try StoreURL(parsing: "postgresql://tailcast@127.0.0.1/tailcast")
        #expect(url.password == nil)
        #expect(url.port == 5432)
        #expect(url.sslMode == .prefer)
    }

    @Test func theDescriptionNeverShowsThePassword() throws {
        let url = try StoreURL(parsing: "postgres://tailcast:hunter2@127.0.0.1:5433/tailcast?sslmode=disable")
        #expect(url.description == "postgres://tailcast@127.0.0.1:5433/tailcast")
    }

    @Test(arguments: [
        ("mysql://u@h/db", "only postgres:// and postgresql://"),
        ("postgres://h/db", "names no user"),
        ("postgres://u@h", "names no database"),
        ("postgres://u@h/", "names no database"),
        ("postgres://u@h/db?sslmode=allow", "unknown sslmode \"allow\""),
        ("postgres://u@h/db?options=-c", "unknown parameter \"options\""),
        ("postgres://u@h:99999/db", "out of range"),
        ("postgres://u@h/db?sslmode=verify-full&sslrootcert=", "sslrootcert names no file"),
        ("postgres://u@h/db?sslrootcert=ca.pem", "sslrootcert needs sslmode=verify-full, verify-ca or require (got prefer)"),
        ("postgres://u@h/db?sslmode=disable&sslrootcert=ca.pem", "(got disable)"),
    ])
    func badURLsAreRefusedWithTheReason(text: String, reason: String) {
        #expect {
            try StoreURL(parsing: text)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".contains("expected postgres://USER")
        }
    }
}
