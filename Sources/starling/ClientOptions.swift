import ArgumentParser
import Foundation
import Logging
import NIOCore
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

    @Flag(name: [.short, .long], help: "Log what the client does, on standard error.")
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
        if cafile != nil || cert != nil || tlsUseOSCerts || insecure {
            configuration.tls = try MQTTClientConfiguration.tls(
                caFile: cafile, certificateFile: cert, keyFile: key, verifiesHostname: !insecure)
        } else if key != nil {
            throw ValidationError("--key needs --cert.")
        }
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
        if let username { configuration.userName = username }
        if let password { configuration.password = ByteBuffer(string: password) }

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
        return Resolved(configuration: configuration, properties: properties, urlTopic: urlTopic)
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

    /// Sends the library's log to standard error: everything with --debug, otherwise nothing (errors are
    /// reported by the command itself, once).
    func bootstrapLogging() {
        let level: Logger.Level = debug ? .debug : .critical
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
