import NIOSSL

extension TLSConfiguration {
    /// TLS 1.2 or newer, and under TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM,
    /// ChaCha20-Poly1305): no CBC with SHA-1 (Lucky 13, BEAST-era suites) and no static RSA key
    /// exchange (no forward secrecy). TLS 1.3's suites are all AEAD and not configurable. The server
    /// and every client apply the same rule.
    public mutating func requireModernTLS() {
        self.minimumTLSVersion = .tlsv12
        self.cipherSuiteValues = [
            .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    }
}

extension ServerEndpoint {
    /// What every client connection trusts: the system's certificate authorities and the `--ca` file, modern TLS only.
    var clientTLSConfiguration: TLSConfiguration {
        var client = TLSConfiguration.makeClientConfiguration()
        client.requireModernTLS()
        if let file = self.certificateAuthorityFile { client.additionalTrustRoots = [.file(file)] }
        return client
    }
}
