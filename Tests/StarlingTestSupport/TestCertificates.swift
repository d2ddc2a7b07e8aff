import Foundation
import NIOSSL

/// A certificate authority, a server certificate for 127.0.0.1 and client certificates, made with `openssl` in a
/// temporary directory once per test run; plus a second, untrusted authority and a client certificate of its.
public struct TestCertificates: Sendable {
    public let directory: String

    public var caCertificate: String { directory + "/ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    /// CN=alice, O=Starling Tests, issued by the trusted authority.
    public var clientCertificate: String { directory + "/alice.crt" }
    public var clientKey: String { directory + "/alice.key" }
    /// An authority that signed neither the server's certificate nor alice's.
    public var untrustedCACertificate: String { directory + "/rogue-ca.crt" }
    /// CN=mallory, issued by an authority the broker does not trust.
    public var untrustedClientCertificate: String { directory + "/mallory.crt" }
    public var untrustedClientKey: String { directory + "/mallory.key" }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static let shared: Result<TestCertificates, Failure> = Result { try make() }.mapError { Failure(description: "\($0)") }

    public static func get() throws -> TestCertificates { try shared.get() }

    private static func make() throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "starling-tls-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory + "/" + name }
        try "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            .write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)

        for authority in ["ca", "rogue-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", path("\(authority).key"), "-out", path("\(authority).crt"), "-days", "2",
                "-subj", "/CN=Starling Tests \(authority)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        let leaves = [
            ("server", "/CN=localhost", "ca", "server.ext"),
            ("alice", "/O=Starling Tests/CN=alice", "ca", "client.ext"),
            ("mallory", "/CN=mallory", "rogue-ca", "client.ext"),
        ]
        for (name, subject, authority, extensions) in leaves {
            try openssl([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject,
            ])
            try openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(authority).crt"), "-CAkey", path("\(authority).key"),
                "-set_serial", "\(UInt32.random(in: 1...UInt32.max))", "-out", path("\(name).crt"), "-days", "2",
                "-extfile", path(extensions),
            ])
        }
        // A broker started by the tests under another user (mosquitto drops to its own) reads the keys too;
        // they protect nothing.
        for name in ["ca", "rogue-ca", "server", "alice", "mallory"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path("\(name).key"))
        }
        return TestCertificates(directory: directory)
    }

    private static func openssl(_ arguments: [String]) throws {
        let (status, errors) = try ChildProcess.run("/usr/bin/env", ["openssl"] + arguments)
        guard status == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: \(errors)")
        }
    }

    // MARK: Configurations

    /// The broker's side: TLS 1.2 or later, and client certificates verified against the test authority.
    public func serverConfiguration(requireClientCertificate: Bool = false, verifyClients: Bool = true) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKey, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        if verifyClients {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCertificate))
            configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
        }
        return configuration
    }

    /// A client trusting the test authority, presenting `certificate` and `key` if given.
    public func clientConfiguration(certificate: String? = nil, key: String? = nil) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCertificate))
        if let certificate, let key {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return configuration
    }
}
