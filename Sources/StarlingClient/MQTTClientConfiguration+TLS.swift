import NIOSSL

extension MQTTClientConfiguration {
    /// A client TLS configuration from PEM files, read now so that a bad file is reported before connecting.
    ///
    /// - Parameters:
    ///   - caFile: certificates to trust for the broker; nil for the system's trust roots.
    ///   - certificateFile: this client's certificate chain, for brokers that require one; needs `keyFile`.
    ///   - keyFile: the private key of `certificateFile`'s certificate.
    ///   - verifiesHostname: false to accept a trusted certificate issued for another name (mosquitto's `--insecure`).
    public static func tls(
        caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifiesHostname: Bool = true
    ) throws -> TLSConfiguration {
        func read<T>(_ what: String, _ path: String, _ load: () throws -> T) throws -> T {
            do {
                return try load()
            } catch {
                throw MQTTClientError(.invalidConfiguration, "cannot read the \(what) '\(path)'", underlying: error)
            }
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            tls.trustRoots = .certificates(try read("CA file", caFile) { try NIOSSLCertificate.fromPEMFile(caFile) })
        }
        switch (certificateFile, keyFile) {
        case (let certificateFile?, let keyFile?):
            let chain = try read("certificate file", certificateFile) { try NIOSSLCertificate.fromPEMFile(certificateFile) }
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(try read("key file", keyFile) { try NIOSSLPrivateKey(file: keyFile, format: .pem) })
        case (nil, nil):
            break
        default:
            throw MQTTClientError(.invalidConfiguration, "a client certificate needs both a certificate file and a key file")
        }
        if !verifiesHostname { tls.certificateVerification = .noHostnameVerification }
        return tls
    }
}
