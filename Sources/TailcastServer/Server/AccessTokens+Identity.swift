import CNIOBoringSSL
import Foundation

extension AccessTokens {
    /// Who is publishing, for binding a job to the token that created it: the SHA-256 of the token, in hex,
    /// so that job.json (which anyone reading the archive sees) never holds a token. On a server without
    /// tokens everyone is the same nobody (""), and the run's `run_id`, which the server never shows, is
    /// what keeps others out of a job.
    func identity(authorization: String?) -> String {
        guard !self.isEmpty, let token = Self.presentedToken(authorization) else { return "" }
        // BoringSSL is linked already for TLS (NIOSSL); swift-crypto would compile a second copy.
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = token.withUnsafeBufferPointer { SHA256($0.baseAddress, $0.count, &digest) }
        return "sha256:" + digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The token bytes of an `Authorization: Bearer TOKEN` header.
    static func presentedToken(_ authorization: String?) -> [UInt8]? {
        guard let header = authorization, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
    }
}
