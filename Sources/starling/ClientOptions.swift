import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOSSL
import StarlingClient

/// The connection options `pub` and `sub` share, named as mosquitto_pub and mosquitto_sub name them.
struct ClientOptions: ParsableArguments {
    @Option(name: [.customShort("h"), .long], help: "Broker host (default: localhost).")
    var host: String?

    @Option(name: [.short, .long], help: "Broker port (default: 1883, or 8883 with TLS).")
    var port: Int?

    @Option(
        name: [.customShort("L"), .long],
        help: "Broker as a URL: mqtt(s)://[user[:password]@]host[:port]/topic, or ws(s)://…/path for MQTT over WebSocket.")
    var url: String?

    @Option(name: [.short, .customLong("id")], help: "Client identifier (default: a random one).")
    var id: String?

    @Option(name: [.customShort("I"), .customLong("id-prefix")], help: "Client identifier prefix; the process id is appended.")
    var idPrefix: String?

    @Option(name: [.short, .long], help: "User name.")
    var username: String?

    @Option(name: [.customShort("P"), .customLong("pw")], help: "Password.")
    var password: String?

    @Option(
        name: [.customShort("V", allowingJoined: true), .customLong("protocol-version")],
        help: "MQTT version: 31, 311 or 5 (also mqttv31, mqttv311, mqttv5; default 311, or 5 with -D); -V5 works too.")
    var protocolVersion: ClientProtocolVersion?

    @Option(name: [.short, .long], help: "Keep alive in seconds.")
    var keepalive: UInt16 = 60

    @Flag(name: [.customShort("c"), .customLong("disable-clean-session")], help: "Keep the session: no clean start, and in 5.0 a session that never expires unless -x says otherwise. Needs -i.")
    var disableCleanSession = false

    @Option(name: .customLong("clean-start"), help: "Clean start (true or false); --clean-start false is the same as -c.")
    var cleanStart: Bool?

    @Option(name: .customShort("x"), parsing: .unconditional, help: ArgumentHelp("5.0 session expiry interval in seconds; -1 or ∞ for never.", valueName: "seconds"))
    var sessionExpiry: String?

    @Option(name: .customLong("will-topic"), help: "Topic of the will message.")
    var willTopic: String?

    @Option(name: .customLong("will-payload"), help: "Payload of the will message.")
    var willPayload: String?

    @Option(name: .customLong("will-qos"), help: "QoS of the will message.")
    var willQoS: UInt8 = 0

    @Flag(name: .customLong("will-retain"), help: "Retain the will message.")
    var willRetain = false

    @Option(
        name: [.customShort("D"), .customLong("property")], parsing: .upToNextOption,
        help: ArgumentHelp("5.0 property: -D command name value, or -D command user-property key value (implies -V 5).", valueName: "command name value"))
    var properties: [String] = []

    @Option(name: .long, help: "CA certificates (PEM) to verify the broker with; turns TLS on.")
    var cafile: String?

    @Option(name: .long, help: "Client certificate (PEM); turns TLS on.")
    var cert: String?

    @Option(name: .long, help: "Client key (PEM), with --cert.")
    var key: String?

    @Flag(name: .long, help: "Do not check that the broker's certificate names the host.")
    var insecure = false

    @Flag(name: .customLong("tls-use-os-certs"), help: "Use TLS and verify the broker with the system's CA certificates.")
    var tlsUseOSCerts = false

    @Option(name: .customLong("auth-method"), help: "5.0 enhanced authentication: SCRAM-SHA-256 proves -u and -P without sending the password (needs -V 5).")
    var authMethod: String?

    @Option(name: .long, help: "Directory of trusted CA certificates (PEM files); turns TLS on.")
    var capath: String?

    @Option(name: .customLong("tls-version"), help: "Use exactly this TLS version: tlsv1.3, tlsv1.2 or tlsv1.1.")
    var tlsVersion: String?

    @Option(name: .long, help: "OpenSSL cipher list for TLS 1.2 and below (TLS 1.3 suites are fixed).")
    var ciphers: String?

    @Option(name: .customLong("tls-alpn"), help: "TLS ALPN protocol to offer.")
    var tlsALPN: String?

    @Option(name: .long, help: "TLS-PSK: the pre-shared key in hexadecimal (no leading 0x); needs --psk-identity. TLS 1.2 only.")
    var psk: String?

    @Option(name: .customLong("psk-identity"), help: "TLS-PSK: the client's identity.")
    var pskIdentity: String?

    @Option(name: .long, help: "Connect through this Unix domain socket instead of TCP.")
    var unix: String?

    @Option(name: .long, help: "SOCKS5 proxy to connect through: socks5h://host[:port] (the proxy resolves the broker's name).")
    var proxy: String?

    @Option(name: .customShort("A"), help: ArgumentHelp("Bind the outgoing socket to this local address.", valueName: "address"))
    var bindAddress: String?

    @Flag(name: .long, help: "Disable Nagle's algorithm (always done: accepted for mosquitto's scripts).")
    var nodelay = false

    @Flag(name: [.short, .long], help: "Print every packet sent and received, as mosquitto's -d does, on standard output.")
    var debug = false

    @Flag(name: .long, help: "Print no runtime error messages.")
    var quiet = false

    /// What the options describe: a client configuration, the properties for each command, and the topic
    /// an `mqtt(s)://…/topic` URL named.
    struct Resolved {
        var configuration: MQTTClientConfiguration
        var properties: ClientPropertyArguments
        var urlTopic: String?
    }

    func resolve(propertyCommands: Set<ClientPropertyArguments.Command>) throws -> Resolved {
        let properties = try ClientPropertyArguments(words: self.properties, allowed: propertyCommands.union([.connect, .will]))
        let version: ProtocolVersion
        switch (protocolVersion?.version, properties.isEmpty) {
        case (let given?, true): version = given
        case (nil, true): version = .v3_1_1
        case (nil, false), (.v5?, false): version = .v5
        case (_?, false): throw ValidationError("-D properties need MQTT 5 (-V 5).")
        }

        var configuration: MQTTClientConfiguration
        var urlTopic: String?
        if let url {
            guard host == nil, port == nil else { throw ValidationError("-L/--url names the broker: leave out -h and -p.") }
            let parsed = try MQTTURL(url)
            configuration = try MQTTClientConfiguration(url: url)
            if !parsed.scheme.usesWebSocket, parsed.path.count > 1 { urlTopic = String(parsed.path.dropFirst()) }
        } else {
            configuration = MQTTClientConfiguration(host: host ?? "localhost")
        }
        if cafile != nil || capath != nil || cert != nil || tlsUseOSCerts || insecure || psk != nil {
            configuration.tls = try tlsConfiguration()
        } else if key != nil {
            throw ValidationError("--key needs --cert.")
        } else if tlsVersion != nil || ciphers != nil || tlsALPN != nil {
            throw ValidationError("--tls-version, --ciphers and --tls-alpn need TLS: give --cafile, --capath or --tls-use-os-certs.")
        }
        if let unix {
            guard host == nil, port == nil, url == nil, proxy == nil else { throw ValidationError("--unix replaces -h, -p, -L and --proxy.") }
            configuration.unixSocketPath = unix
        }
        if let proxy { configuration.socksProxy = try Self.socksProxy(proxy) }
        configuration.localAddress = bindAddress
        if url == nil {
            configuration.port = port ?? MQTTClientConfiguration.defaultPort(transport: .tcp, tls: configuration.tls != nil)
        }
        configuration.protocolVersion = version
        configuration.keepAlive = keepalive

        if let id {
            configuration.clientIdentifier = id
        } else if let idPrefix {
            configuration.clientIdentifier = idPrefix + String(ProcessInfo.processInfo.processIdentifier)
        }
        let keepsSession = disableCleanSession || cleanStart == false
        if keepsSession && id == nil && idPrefix == nil {
            throw ValidationError("You must provide a client id (-i) if you are using the -c option.")
        }
        configuration.cleanStart = !keepsSession
        if let authMethod {
            guard authMethod.uppercased() == SCRAMClientAuthentication.method else {
                throw ValidationError("--auth-method: only SCRAM-SHA-256 is supported.")
            }
            guard version == .v5 else { throw ValidationError("--auth-method needs MQTT 5 (-V 5).") }
            guard let username, let password else { throw ValidationError("--auth-method SCRAM-SHA-256 needs -u and -P.") }
            configuration.authentication = SCRAMClientAuthentication(userName: username, password: password)
        } else {
            if let username { configuration.userName = username }
            if let password { configuration.password = ByteBuffer(string: password) }
        }

        var connect = properties[.connect]
        if let sessionExpiry {
            guard version == .v5 else { throw ValidationError("-x needs MQTT 5 (-V 5).") }
            configuration.sessionExpiryInterval = try Self.sessionExpiry(sessionExpiry)
        } else if let fromProperty = connect.sessionExpiryInterval {
            configuration.sessionExpiryInterval = fromProperty
        } else if keepsSession && version == .v5 {
            configuration.sessionExpiryInterval = UInt32.max
        }
        configuration.receiveMaximum = connect.receiveMaximum
        configuration.maximumPacketSize = connect.maximumPacketSize
        configuration.topicAliasMaximum = connect.topicAliasMaximum ?? 0
        for identifier in [Property.Identifier.sessionExpiryInterval, .receiveMaximum, .maximumPacketSize, .topicAliasMaximum] {
            connect.remove(identifier)
        }
        configuration.connectProperties = connect

        if let willTopic {
            let qos = try Self.qos(willQoS, option: "--will-qos")
            configuration.will = .init(
                topic: willTopic, payload: ByteBuffer(string: willPayload ?? ""), qos: qos, retain: willRetain,
                properties: properties[.will])
        } else if willPayload != nil || willRetain || willQoS != 0 || !properties[.will].isEmpty {
            throw ValidationError("--will-payload, --will-qos, --will-retain and will properties need --will-topic.")
        }
        if debug { configuration.packetObserver = ClientPacketTrace(clientIdentifier: configuration.clientIdentifier).observer }
        return Resolved(configuration: configuration, properties: properties, urlTopic: urlTopic)
    }

    /// The TLS settings of --cafile, --capath, --cert, --key, --insecure, --tls-version, --ciphers, --tls-alpn
    /// and --psk.
    private func tlsConfiguration() throws -> TLSConfiguration {
        var tls = try MQTTClientConfiguration.tls(
            caFile: cafile, certificateFile: cert, keyFile: key, verifiesHostname: !insecure)
        if let capath {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: capath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--capath '\(capath)' is not a directory.")
            }
            // Every PEM certificate in the directory, whatever its file is called (OpenSSL's hashed names or not).
            let names = (try? FileManager.default.contentsOfDirectory(atPath: capath)) ?? []
            let certificates = names.sorted().flatMap { name in
                (try? NIOSSLCertificate.fromPEMFile((capath as NSString).appendingPathComponent(name))) ?? []
            }
            guard !certificates.isEmpty else { throw ValidationError("--capath '\(capath)' holds no PEM certificate.") }
            tls.additionalTrustRoots.append(.certificates(certificates))
        }
        if let tlsVersion {
            let versions: [String: TLSVersion] = ["tlsv1.3": .tlsv13, "tlsv1.2": .tlsv12, "tlsv1.1": .tlsv11]
            guard let version = versions[tlsVersion.lowercased()] else {
                throw ValidationError("--tls-version must be tlsv1.3, tlsv1.2 or tlsv1.1.")
            }
            tls.minimumTLSVersion = version
            tls.maximumTLSVersion = version
        }
        if let ciphers { tls.cipherSuites = ciphers }
        if let tlsALPN { tls.applicationProtocols = [tlsALPN] }
        switch (psk, pskIdentity) {
        case (let psk?, let identity?):
            guard psk.count % 2 == 0, !psk.isEmpty, let key = Self.bytes(hex: psk) else {
                throw ValidationError("--psk must be the key in hexadecimal, without a leading 0x.")
            }
            // BoringSSL offers PSK with TLS 1.2 only; without certificates the broker is known by its key.
            tls.maximumTLSVersion = .tlsv12
            tls.certificateVerification = cafile == nil && capath == nil ? .none : tls.certificateVerification
            tls.pskClientProvider = { _ in PSKClientIdentityResponse(key: NIOSSLSecureBytes(key), identity: identity) }
            if ciphers == nil { tls.cipherSuites = "PSK" }
        case (nil, nil):
            break
        default:
            throw ValidationError("--psk and --psk-identity go together.")
        }
        return tls
    }

    private static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// A `socks5h://host[:port]` (or `socks5://`) URL as mosquitto's --proxy takes it.
    static func socksProxy(_ text: String) throws -> MQTTClientConfiguration.SOCKSProxy {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "socks5h" || scheme == "socks5", let host = components.host, !host.isEmpty
        else {
            throw ValidationError("--proxy must be a URL such as socks5h://localhost:1080.")
        }
        guard components.user == nil else {
            throw ValidationError("--proxy: SOCKS5 user names and passwords are not supported.")
        }
        return .init(host: host, port: components.port ?? 1080)
    }

    /// Reads a QoS option given as 0, 1 or 2.
    static func qos(_ value: UInt8, option: String) throws -> QoS {
        guard let qos = QoS(rawValue: value) else { throw ValidationError("\(option) must be 0, 1 or 2.") }
        return qos
    }

    private static func sessionExpiry(_ text: String) throws -> UInt32 {
        if text == "-1" || text == "∞" { return UInt32.max }
        guard let seconds = UInt32(text) else { throw ValidationError("-x must be a number of seconds, -1 or ∞.") }
        return seconds
    }

    /// Sends the library's log to standard error: nothing (errors are reported by the command itself, once; -d
    /// traces packets instead, see `ClientPacketTrace`).
    func bootstrapLogging() {
        let level: Logger.Level = .critical
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
