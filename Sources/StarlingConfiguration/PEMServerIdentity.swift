import NIOSSL

/// A server's certificate chain and private key read from PEM files, for a TLS listener or the HTTPS
/// operations listener; a file that cannot be read is refused naming its key.
struct PEMServerIdentity {
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey

    /// - Parameters:
    ///   - certificateKey, privateKeyKey: the configuration keys that named the files, for the errors.
    ///   - fail: makes the error for a key and a reason.
    init(
        certificate: String, privateKey: String, certificateKey: String, privateKeyKey: String,
        fail: (String, String) -> ConfigurationError
    ) throws {
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw fail(certificateKey, "cannot read a PEM certificate chain from \(certificate): \(error)")
        }
        guard !chain.isEmpty else { throw fail(certificateKey, "no certificate in \(certificate)") }
        do {
            key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
        } catch {
            throw fail(privateKeyKey, "cannot read a PEM private key from \(privateKey): \(error)")
        }
    }

    /// A server configuration presenting this identity.
    var serverConfiguration: TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}
