import Foundation
import NIOSSL
import PostgresNIO

/// How the store's connections use TLS, from the URL's `sslmode` and `sslrootcert`. Made once, before
/// anything connects, so that the pool and the follower's LISTEN connection check the server alike and
/// a CA file that cannot be used stops the server at start, as a bad URL does, rather than failing
/// every connection.
struct StoreTLS: Sendable {
    let mode: StoreURL.SSLMode
    /// What the pool builds its connections' TLS from.
    let configuration: TLSConfiguration
    /// The same, ready for a connection of its own; nil with `sslmode=disable`.
    let context: NIOSSLContext?

    init(_ url: StoreURL) throws(StoreURL.Invalid) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let file = url.sslRootCert {
            tls.trustRoots = .certificates(try Self.certificates(in: file))
        }
        // libpq's modes: `prefer` and `require` encrypt without checking who answers, unless CAs were
        // given to `require`; `verify-ca` checks the chain only; `verify-full` the host too. NIOSSL compares
        // a host given as an IP address with the certificate's IP address entries (postgres-nio sends no
        // server name for it); a DNS name with its DNS names, though it also takes an IP address entry
        // equal to the address connected to, which libpq would not (README: TLS to PostgreSQL).
        switch url.sslMode {
        case .disable, .prefer: tls.certificateVerification = .none
        case .require: tls.certificateVerification = url.sslRootCert == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        self.mode = url.sslMode
        self.configuration = tls
        guard url.sslMode != .disable else {
            self.context = nil
            return
        }
        do {
            self.context = try NIOSSLContext(configuration: tls)
        } catch {
            throw StoreURL.Invalid(description: "--store: cannot set up TLS: \(error)")
        }
    }

    /// Far more than a bundle of every public CA (about 200 KiB).
    static let maxRootCertBytes = 4 << 20

    /// The CA certificates in a PEM file, or why there are none to use.
    private static func certificates(in file: String) throws(StoreURL.Invalid) -> [NIOSSLCertificate] {
        func invalid(_ why: String) -> StoreURL.Invalid { StoreURL.Invalid(description: "--store: sslrootcert \(file): \(why)") }
        // Opened without waiting and read only if a regular file: a FIFO would wait for a writer, and
        // reading /dev/zero would never end.
        let descriptor = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw invalid(String(cString: strerror(errno))) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { throw invalid("not a regular file") }
        guard status.st_size <= Self.maxRootCertBytes else { throw invalid("larger than \(Self.maxRootCertBytes) bytes") }
        let bytes: Data
        do {
            bytes = try handle.readToEnd() ?? Data()
        } catch {
            throw invalid("cannot be read: \(error)")
        }
        let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(bytes))
        guard let certificates, !certificates.isEmpty else { throw invalid("holds no PEM certificate (-----BEGIN CERTIFICATE-----)") }
        return certificates
    }

    /// For the pool.
    var client: PostgresClient.Configuration.TLS {
        switch self.mode {
        case .disable: .disable
        case .prefer: .prefer(self.configuration)
        case .require, .verifyCA, .verifyFull: .require(self.configuration)
        }
    }

    /// For a connection of its own.
    var connection: PostgresConnection.Configuration.TLS {
        guard let context = self.context else { return .disable }
        return self.mode == .prefer ? .prefer(context) : .require(context)
    }
}
