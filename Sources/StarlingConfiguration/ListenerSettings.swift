import NIOCore
import NIOSSL
import StarlingBroker

/// The keys under `listeners.<name>`, before they are checked against each other and turned into a listener.
struct ListenerSettings: Sendable {
    enum ListenerProtocol: String, Sendable {
        case mqtt, mqtts, ws, wss

        var defaultPort: Int {
            switch self {
            case .mqtt: 1883
            case .mqtts: 8883
            case .ws: 8083
            case .wss: 8084
            }
        }

        var usesTLS: Bool { self == .mqtts || self == .wss }
    }

    enum TLSVersion: Sendable {
        case v1_2, v1_3
    }

    var host = "0.0.0.0"
    var port: Int?
    var `protocol` = ListenerProtocol.mqtt
    var path = "/mqtt"
    var proxyProtocol = false
    /// 0: only the broker-wide limit.
    var maximumConnections = 0
    var certificate: String?
    var privateKey: String?
    var certificateAuthority: String?
    var requireCertificate = false
    var userNameFromCertificate = false
    var minimumTLSVersion = TLSVersion.v1_2

    /// The keys of one listener, relative to `listeners.<name>`.
    static let settings: [Setting<ListenerSettings>] = [
        .string("host", \.host),
        .int("port", \.chosenPort, in: 0...65_535),
        .choice("protocol", \.protocol, ["mqtt": .mqtt, "mqtts": .mqtts, "ws": .ws, "wss": .wss]),
        .string("path", \.path),
        .bool("proxy_protocol", \.proxyProtocol),
        .int("max_connections", \.maximumConnections, in: 0...10_000_000),
        .string("tls.certificate", \.certificate),
        .string("tls.key", \.privateKey),
        .string("tls.ca", \.certificateAuthority),
        .bool("tls.require_certificate", \.requireCertificate),
        .bool("tls.username_from_certificate", \.userNameFromCertificate),
        .choice("tls.min_version", \.minimumTLSVersion, ["1.2": .v1_2, "1.3": .v1_3]),
    ]

    /// Port 0 asks the system for a free port (useful in tests); unset means the protocol's usual port.
    private var chosenPort: Int {
        get { port ?? `protocol`.defaultPort }
        set { port = newValue }
    }

    /// Checks the keys against each other, loads the TLS files, and makes the listener.
    func listener(name: String, values: ConfigurationValues) throws -> BrokerConfiguration.Listener {
        func fail(_ key: String, _ reason: String) -> ConfigurationError {
            let fullKey = "listeners.\(name).\(key)"
            let source = values.source(of: fullKey) ?? values.source(of: "listeners.\(name).protocol")
            return ConfigurationError(key: fullKey, source: source?.describe(fullKey) ?? "configuration", reason: reason)
        }
        guard path.hasPrefix("/") else { throw fail("path", "expected an HTTP path starting with /, got \"\(path)\"") }
        let transport: BrokerConfiguration.Listener.Transport
        if `protocol`.usesTLS {
            let tls = try tlsConfiguration(fail: fail)
            transport = `protocol` == .mqtts ? .tls(tls) : .webSocketTLS(path: path, tls)
        } else {
            for key in ["tls.certificate", "tls.key", "tls.ca"] where values.source(of: "listeners.\(name).\(key)") != nil {
                throw fail(key, "TLS settings need protocol mqtts or wss, not \(`protocol`.rawValue)")
            }
            transport = `protocol` == .mqtt ? .tcp : .webSocket(path: path)
        }
        return BrokerConfiguration.Listener(
            host: host, port: port ?? `protocol`.defaultPort, transport: transport, proxyProtocol: proxyProtocol,
            maximumConnections: maximumConnections == 0 ? nil : maximumConnections,
            userNameFromCertificate: userNameFromCertificate)
    }

    private func tlsConfiguration(fail: (String, String) -> ConfigurationError) throws -> TLSConfiguration {
        guard let certificate else { throw fail("tls.certificate", "protocol \(`protocol`.rawValue) needs a certificate chain (PEM)") }
        guard let privateKey else { throw fail("tls.key", "protocol \(`protocol`.rawValue) needs the certificate's private key (PEM)") }
        var configuration = try PEMServerIdentity(
            certificate: certificate, privateKey: privateKey, certificateKey: "tls.certificate", privateKeyKey: "tls.key", fail: fail
        ).serverConfiguration
        configuration.minimumTLSVersion = minimumTLSVersion == .v1_3 ? .tlsv13 : .tlsv12
        if let certificateAuthority {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(certificateAuthority)
            } catch {
                throw fail("tls.ca", "cannot read PEM certificates from \(certificateAuthority): \(error)")
            }
            guard !roots.isEmpty else { throw fail("tls.ca", "no certificate in \(certificateAuthority)") }
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = requireCertificate ? .noHostnameVerification : .optionalVerification
        } else if requireCertificate {
            throw fail("tls.require_certificate", "needs tls.ca, the certificates that client certificates are verified against")
        } else if userNameFromCertificate {
            throw fail("tls.username_from_certificate", "needs tls.ca, the certificates that client certificates are verified against")
        }
        return configuration
    }
}
