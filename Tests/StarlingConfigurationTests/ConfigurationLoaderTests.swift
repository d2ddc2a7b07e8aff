import Foundation
import MQTT
import NIOCore
import NIOSSL
import StarlingBroker
import StarlingConfiguration
import StarlingTestSupport
import Testing

/// The configuration file, `STARLING_` environment variables and flags, and what is refused.
@Suite struct ConfigurationLoaderTests {
    /// Writes `yaml` to a file of its own and loads it with `environment` and `flags`.
    static func load(
        _ yaml: String?, environment: [String: String] = [:], flags: [String: String] = [:]
    ) throws -> ServerConfiguration {
        guard let yaml else { return try ConfigurationLoader.load(file: nil, environment: environment, flags: flags) }
        let file = TemporaryFile(contents: yaml, name: "starling.yaml")
        defer { file.remove() }
        return try ConfigurationLoader.load(file: file.path, environment: environment, flags: flags)
    }

    /// The error loading `yaml` gives, with the file's path replaced by `FILE`.
    static func error(_ yaml: String, environment: [String: String] = [:], flags: [String: String] = [:]) -> String? {
        let file = TemporaryFile(contents: yaml, name: "starling.yaml")
        defer { file.remove() }
        do {
            _ = try ConfigurationLoader.load(file: file.path, environment: environment, flags: flags)
            return nil
        } catch {
            return "\(error)".replacingOccurrences(of: file.path, with: "FILE")
        }
    }

    @Test func withoutConfigurationOneListenerOnPort1883() throws {
        let configuration = try Self.load(nil)
        #expect(configuration.broker.listeners.count == 1)
        let listener = try #require(configuration.broker.listeners.first)
        #expect(listener.host == "0.0.0.0")
        #expect(listener.port == 1883)
        guard case .tcp = listener.transport else { Issue.record("expected TCP, got \(listener.transport)"); return }
        #expect(!listener.proxyProtocol)
        #expect(configuration.broker.limits == BrokerConfiguration.Limits())
        #expect(configuration.logLevel == .info)
    }

    @Test func fileSetsLimitsAndListeners() throws {
        let configuration = try Self.load("""
            # comments are fine
            log_level: debug
            max_packet_size: 65536
            max_keepalive: 300
            connect_timeout: 5
            listeners:
              public:
                port: 1884
                proxy_protocol: true
                max_connections: 500
              browsers:
                protocol: ws
                host: 127.0.0.1
                path: /socket
            """)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.broker.limits.maximumPacketSize == 65_536)
        #expect(configuration.broker.limits.maximumKeepAlive == 300)
        #expect(configuration.broker.limits.connectTimeout == .seconds(5))
        let listeners = configuration.broker.listeners
        #expect(listeners.count == 2)
        #expect(listeners[0].port == 1884)
        #expect(listeners[0].proxyProtocol)
        #expect(listeners[0].maximumConnections == 500)
        #expect(listeners[1].host == "127.0.0.1")
        #expect(listeners[1].port == 8083)
        guard case .webSocket(let path) = listeners[1].transport else { Issue.record("expected WebSocket"); return }
        #expect(path == "/socket")
    }

    @Test func capabilitiesAndSystemTopics() throws {
        let configuration = try Self.load("""
            retain_available: false
            maximum_qos: 1
            shared_subscription_policy: hash_by_client
            queue_qos0_while_offline: true
            response_information: reply/
            sys_interval: 0
            auth_timeout: 3
            """, flags: ["wildcard_subscription_available": "false"])
        let broker = configuration.broker
        #expect(!broker.retainAvailable)
        #expect(!broker.wildcardSubscriptionAvailable)
        #expect(broker.subscriptionIdentifiersAvailable)
        #expect(broker.maximumQoS == .atLeastOnce)
        #expect(broker.sharedSubscriptionPolicy == .hashByClient)
        #expect(broker.queueQoS0WhileOffline)
        #expect(broker.responseInformation == "reply/")
        #expect(broker.systemTopicsInterval == nil)
        #expect(broker.limits.authenticationTimeout == .seconds(3))
        #expect(try Self.load("sys_interval: 30\n").broker.systemTopicsInterval == .seconds(30))
    }

    @Test func hibernationIsOnByDefaultAndZeroTurnsItOff() throws {
        #expect(try Self.load("").broker.limits.hibernateAfter == .seconds(10))
        #expect(try Self.load("hibernate_after: 30\n").broker.limits.hibernateAfter == .seconds(30))
        #expect(try Self.load("hibernate_after: 0\n").broker.limits.hibernateAfter == nil)
        #expect(try Self.load("", flags: ["hibernate_after": "0"]).broker.limits.hibernateAfter == nil)
        #expect(try Self.load("").broker.limits.hibernateQuicklyAbove == 1_000)
        #expect(try Self.load("hibernate_quickly_above: 50000\n").broker.limits.hibernateQuicklyAbove == 50_000)
        #expect(try Self.load("", flags: ["hibernate_quickly_above": "0"]).broker.limits.hibernateQuicklyAbove == 0)
        #expect(try Self.load("", environment: ["STARLING_HIBERNATE_QUICKLY_ABOVE": "5"]).broker.limits.hibernateQuicklyAbove == 5)
    }

    @Test func upgradeHeadLimitFromFileEnvironmentAndFlag() throws {
        #expect(try Self.load("").broker.limits.maximumUpgradeHeadBytes == 16_384)
        #expect(try Self.load("max_upgrade_head_bytes: 8192\n").broker.limits.maximumUpgradeHeadBytes == 8_192)
        #expect(try Self.load("", environment: ["STARLING_MAX_UPGRADE_HEAD_BYTES": "4096"]).broker.limits.maximumUpgradeHeadBytes == 4_096)
        #expect(try Self.load("max_upgrade_head_bytes: 8192\n", flags: ["max_upgrade_head_bytes": "32768"])
            .broker.limits.maximumUpgradeHeadBytes == 32_768)
        #expect(Self.error("max_upgrade_head_bytes: 10\n") != nil)
    }

    @Test func freedMemoryReturnFromFileAndFlagAndZeroTurnsItOff() throws {
        #expect(try Self.load("").broker.limits.freedMemoryReturn == FreedMemoryReturn(interval: .seconds(10), afterConnections: 1_000))
        #expect(try Self.load("return_freed_memory_after: 5000\n").broker.limits.freedMemoryReturn?.afterConnections == 5_000)
        #expect(try Self.load("", flags: ["return_freed_memory_after": "0"]).broker.limits.freedMemoryReturn == nil)
        #expect(Self.error("return_freed_memory_after: -1\n") != nil)
    }

    @Test func flowControlFromFileAndFlagAndFalseTurnsItOff() throws {
        #expect(try Self.load("").broker.limits.flowControl == FlowControl())
        let configured = try Self.load("""
            queue_high_water: 200
            queue_low_water: 50
            max_queued_connected: 5000
            max_withheld_acks: 64
            """)
        #expect(configured.broker.limits.flowControl == FlowControl(highWater: 200, lowWater: 50, maximumQueued: 5_000, maximumWithheldAcknowledgements: 64))
        #expect(try Self.load("queue_high_water: 200\n", flags: ["flow_control": "false"]).broker.limits.flowControl == nil)
        #expect(Self.error("queue_high_water: 100\nqueue_low_water: 100\n")?.contains("queue_low_water (100) must be below queue_high_water (100)") == true)
        #expect(Self.error("queue_high_water: 0\n") != nil)
    }

    @Test func unknownTopLevelKeyIsRefusedNamingKeyAndFile() {
        let message = Self.error("max_packet_size: 1000\nmax_pakcet_size: 2000\n")
        #expect(message == "FILE (line 2): max_pakcet_size: unknown key")
    }

    @Test func unknownListenerKeyIsRefusedNamingKeyAndFile() {
        let message = Self.error("""
            listeners:
              secure:
                protocol: mqtts
                tls:
                  certificate: /etc/starling/server.pem
                  keyfile: /etc/starling/server.key
            """)
        #expect(message == "FILE (line 6): listeners.secure.tls.keyfile: unknown key")
    }

    @Test func sectionWhereAValueBelongsIsRefused() {
        #expect(Self.error("max_inflight:\n  value: 3\n") == "FILE (line 2): max_inflight: expected a single value, not a mapping")
        #expect(Self.error("listeners:\n  a:\n    port: [1, 2]\n") == "FILE (line 3): listeners.a.port: expected a single value, not a list")
    }

    @Test(arguments: [
        ("max_packet_size: lots\n", "FILE (line 1): max_packet_size: expected an integer from 16 to 268435455, got \"lots\""),
        ("max_packet_size: 3\n", "FILE (line 1): max_packet_size: expected an integer from 16 to 268435455, got 3"),
        ("log_level: loud\n", "FILE (line 1): log_level: expected one of trace, debug, info, notice, warning, error, critical, got \"loud\""),
        ("listeners:\n  a:\n    proxy_protocol: maybe\n", "FILE (line 3): listeners.a.proxy_protocol: expected true or false, got \"maybe\""),
        ("listeners:\n  a:\n    port: 70000\n", "FILE (line 3): listeners.a.port: expected an integer from 0 to 65535, got 70000"),
        ("listeners:\n  a:\n    protocol: http\n", "FILE (line 3): listeners.a.protocol: expected one of mqtt, mqtts, ws, wss, got \"http\""),
    ])
    func badValueIsRefusedNamingKeyFileAndLine(_ yaml: String, _ expected: String) {
        #expect(Self.error(yaml) == expected)
    }

    /// The operations listener: off by default, on with a port from the file, the environment or a flag.
    @Test func operationsListenerFromFileEnvironmentAndFlags() throws {
        #expect(try Self.load(nil).http.port == nil)
        let fromFile = try Self.load("http:\n  port: 8080\n  token: abc\n  users_from_password_file: true\n")
        #expect(fromFile.http.port == 8080)
        #expect(fromFile.http.host == "127.0.0.1")
        #expect(fromFile.http.token == "abc")
        #expect(fromFile.http.usersFromPasswordFile)
        let fromEnvironment = try Self.load(nil, environment: ["STARLING_HTTP_PORT": "9090", "STARLING_HTTP_TOKEN": "t"])
        #expect(fromEnvironment.http.port == 9090)
        #expect(fromEnvironment.http.token == "t")
        let fromFlags = try Self.load("http:\n  port: 8080\n", flags: ["http.port": "8081", "http.host": "0.0.0.0"])
        #expect(fromFlags.http.port == 8081)
        #expect(fromFlags.http.host == "0.0.0.0")
        #expect(Self.error("http:\n  port: 8080\n  tokn: abc\n") == "FILE (line 3): http.tokn: unknown key")
        #expect(Self.error("http:\n  port: http\n") == "FILE (line 2): http.port: expected an integer from 0 to 65535, got \"http\"")
        #expect(Self.error("http:\n  port: 8080\n  tls:\n    key: /tmp/k.pem\n")
            == "FILE (line 4): http.tls.key: needs http.tls.certificate, the certificate chain (PEM)")
    }

    @Test func operationsListenerOverHTTPS() throws {
        let certificates = try TestCertificates.get()
        let configuration = try Self.load("""
            http:
              port: 8443
              tls:
                certificate: \(certificates.serverCertificate)
                key: \(certificates.serverKey)
            """)
        #expect(configuration.http.tls != nil)
    }

    /// The `bridges` section, in the shape the documentation gives.
    @Test func bridgesFromTheFile() throws {
        let configuration = try Self.load("""
            max_inflight: 30
            bridges:
              cloud:
                addresses: [mqtt://cloud.example.com:1883, "mqtts://cloud-b.example.com:8883"]
                client_id: edge-1
                username: edge-1
                password: secret
                protocol_version: "3.1.1"
                clean_start: false
                session_expiry: 86400
                topics:
                  - {pattern: "sensors/#", direction: out, qos: 1, local_prefix: "", remote_prefix: "site-1/"}
                  - {pattern: "commands/#", direction: in, qos: 2, remote_prefix: "site-1/"}
              backup:
                addresses: mqtt://127.0.0.1:1884
                topics: [{pattern: "#", direction: both}]
            """)
        #expect(configuration.broker.limits.maximumInflight == 30)
        #expect(configuration.bridges.map(\.name) == ["cloud", "backup"])
        let cloud = try #require(configuration.bridges.first?.configuration)
        #expect(cloud.addresses.map(\.host) == ["cloud.example.com", "cloud-b.example.com"])
        #expect(cloud.clientIdentifier == "edge-1")
        #expect(cloud.userName == "edge-1")
        #expect(cloud.password == "secret")
        #expect(cloud.protocolVersion == .v3_1_1)
        #expect(!cloud.cleanStart)
        #expect(cloud.sessionExpiry == 86_400)
        #expect(cloud.topics.map(\.remoteFilter) == ["site-1/sensors/#", "site-1/commands/#"])
        #expect(cloud.topics.map(\.direction) == [.out, .in])
        #expect(cloud.topics.map(\.qos) == [.atLeastOnce, .exactlyOnce])
        let backup = try #require(configuration.bridges.last?.configuration)
        #expect(backup.clientIdentifier == "backup")
        #expect(backup.protocolVersion == .v5)
        #expect(backup.topics.first?.direction == .both)
    }

    @Test(arguments: [
        ("bridges:\n  cloud:\n    adresses: [mqtt://a]\n", "FILE (line 3): bridges.cloud.adresses: unknown key"),
        ("bridges:\n  cloud:\n    addresses: [mqtt://a]\n", "FILE (line 3): bridges.cloud.topics: a bridge needs at least one topic rule"),
        ("bridges:\n  cloud:\n    addresses: [http://a]\n    topics: [{pattern: a}]\n", "FILE (line 3): bridges.cloud.addresses: not an mqtt://, mqtts://, ws:// or wss:// address: \"http://a\""),
        ("bridges:\n  cloud:\n    addresses: [mqtt://a]\n    topics: [{pattern: a, direction: sideways}]\n", "FILE (line 4): bridges.cloud.topics.direction: expected one of out, in, both, got \"sideways\""),
        ("bridges:\n  cloud:\n    addresses: [mqtt://a]\n    topics: [{pattern: \"a/#/b\"}]\n", "FILE (line 4): bridges.cloud.topics.pattern: \"a/#/b\" / \"a/#/b\" is not a valid topic filter"),
        ("bridges:\n  cloud:\n    addresses: [mqtt://a]\n    topics: [{pattern: a, qos: 3}]\n", "FILE (line 4): bridges.cloud.topics.qos: expected an integer from 0 to 2, got \"3\""),
        ("bridges:\n  cloud:\n    addresses: [mqtt://a]\n    protocol_version: 6\n    topics: [{pattern: a}]\n", "FILE (line 4): bridges.cloud.protocol_version: expected \"5\" or \"3.1.1\", got \"6\""),
    ])
    func badBridgesAreRefusedNamingKeyFileAndLine(_ yaml: String, _ expected: String) {
        #expect(Self.error(yaml) == expected)
    }

    @Test func tlsListenerNeedsACertificate() {
        #expect(Self.error("listeners:\n  secure:\n    protocol: mqtts\n")
            == "FILE: listeners.secure.tls.certificate: protocol mqtts needs a certificate chain (PEM)")
    }

    @Test func tlsSettingsOnAPlainListenerAreRefused() {
        #expect(Self.error("listeners:\n  plain:\n    tls:\n      ca: /tmp/ca.pem\n")
            == "FILE (line 4): listeners.plain.tls.ca: TLS settings need protocol mqtts or wss, not mqtt")
    }

    @Test func missingCertificateFileIsNamed() throws {
        let message = try #require(Self.error("""
            listeners:
              secure:
                protocol: wss
                tls:
                  certificate: /nonexistent/server.pem
                  key: /nonexistent/server.key
            """))
        #expect(message.hasPrefix("FILE (line 5): listeners.secure.tls.certificate: cannot read a PEM certificate chain from /nonexistent/server.pem"))
    }

    @Test func tlsListenerFromFiles() throws {
        let certificates = try TestCertificates.get()
        let configuration = try Self.load("""
            listeners:
              secure:
                protocol: mqtts
                tls:
                  certificate: \(certificates.serverCertificate)
                  key: \(certificates.serverKey)
                  ca: \(certificates.caCertificate)
                  require_certificate: true
                  username_from_certificate: true
            """)
        let listener = try #require(configuration.broker.listeners.first)
        #expect(listener.port == 8883)
        #expect(listener.userNameFromCertificate)
        guard case .tls(let tls) = listener.transport else { Issue.record("expected TLS"); return }
        #expect(tls.minimumTLSVersion == .tlsv12)
        #expect(tls.certificateVerification == .noHostnameVerification)
    }

    @Test func requireCertificateNeedsACA() throws {
        let certificates = try TestCertificates.get()
        let message = Self.error("""
            listeners:
              secure:
                protocol: mqtts
                tls:
                  certificate: \(certificates.serverCertificate)
                  key: \(certificates.serverKey)
                  require_certificate: true
            """)
        #expect(message == "FILE (line 7): listeners.secure.tls.require_certificate: needs tls.ca, the certificates that client certificates are verified against")
    }

    @Test func environmentOverridesTheFileAndFlagsOverrideBoth() throws {
        let yaml = "max_inflight: 10\nmax_queued: 100\nmax_subscriptions: 5\nlisteners:\n  default:\n    port: 1884\n"
        let environment = ["STARLING_MAX_QUEUED": "200", "STARLING_MAX_SUBSCRIPTIONS": "6", "STARLING_LISTENERS_DEFAULT_PORT": "1885"]
        let fromEnvironment = try Self.load(yaml, environment: environment)
        #expect(fromEnvironment.broker.limits.maximumInflight == 10)
        #expect(fromEnvironment.broker.limits.maximumQueuedMessages == 200)
        #expect(fromEnvironment.broker.limits.maximumSubscriptionsPerClient == 6)
        #expect(fromEnvironment.broker.listeners.map(\.port) == [1885])

        let fromFlags = try Self.load(yaml, environment: environment, flags: ["max_subscriptions": "7", "listeners.default.port": "1886"])
        #expect(fromFlags.broker.limits.maximumInflight == 10)
        #expect(fromFlags.broker.limits.maximumQueuedMessages == 200)
        #expect(fromFlags.broker.limits.maximumSubscriptionsPerClient == 7)
        #expect(fromFlags.broker.listeners.map(\.port) == [1886])
    }

    /// The client identifier binding options, from the file, the environment and flags.
    @Test func clientIdentifierBindingSettings() throws {
        let defaults = try Self.load(nil)
        #expect(!defaults.userNameAsClientIdentifier && !defaults.clientIdentifierPrefixedByUserName)
        #expect(defaults.clientIdentifierSeparator == "-")
        let file = try Self.load("use_username_as_clientid: true\n")
        #expect(file.userNameAsClientIdentifier)
        let environment = try Self.load(nil, environment: [
            "STARLING_CLIENTID_PREFIXED_BY_USERNAME": "true", "STARLING_CLIENTID_USERNAME_SEPARATOR": ":",
        ])
        #expect(environment.clientIdentifierPrefixedByUserName)
        #expect(environment.clientIdentifierSeparator == ":")
        let flags = try Self.load(nil, flags: ["clientid_prefixed_by_username": "true", "clientid_username_separator": "/"])
        #expect(flags.clientIdentifierPrefixedByUserName)
        #expect(flags.clientIdentifierSeparator == "/")
    }

    @Test func flagsChangeTheDefaultListenerWithoutAFile() throws {
        let configuration = try Self.load(nil, flags: ["listeners.default.host": "127.0.0.1", "listeners.default.port": "1999"])
        #expect(configuration.broker.listeners.map(\.host) == ["127.0.0.1"])
        #expect(configuration.broker.listeners.map(\.port) == [1999])
    }

    @Test func environmentValuesAreCheckedAndNamed() {
        #expect(Self.error("", environment: ["STARLING_MAX_INFLIGHT": "many"])
            == "environment variable STARLING_MAX_INFLIGHT: max_inflight: expected an integer from 1 to 65535, got \"many\"")
        #expect(Self.error("listeners:\n  edge:\n    port: 1\n", environment: ["STARLING_LISTENERS_EDGE_PORT": "-1"])
            == "environment variable STARLING_LISTENERS_EDGE_PORT: listeners.edge.port: expected an integer from 0 to 65535, got -1")
    }

    @Test func unknownEnvironmentVariableIsReported() throws {
        let configuration = try Self.load(nil, environment: ["STARLING_MAX_INFLIGTH": "3", "STARLING_CLI": "/bin/starling", "HOME": "/root"])
        #expect(configuration.warnings == ["environment variable STARLING_MAX_INFLIGTH is not a setting and was ignored"])
    }

    @Test func emptyFileMeansDefaults() throws {
        let configuration = try Self.load("# nothing yet\n")
        #expect(configuration.broker.listeners.map(\.port) == [1883])
    }

    @Test func invalidYAMLIsRefusedNamingTheFile() throws {
        let message = try #require(Self.error("listeners: [\n"))
        #expect(message.hasPrefix("FILE: (file): not valid YAML"))
    }

    @Test func exampleFileLoads() throws {
        // The documented example must stay a valid configuration: only its TLS files are missing here.
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("starling.example.yaml").path
        let certificates = try TestCertificates.get()
        let text = try String(contentsOfFile: example, encoding: .utf8)
            .replacingOccurrences(of: "/etc/starling/server.crt", with: "\(certificates.serverCertificate)")
            .replacingOccurrences(of: "/etc/starling/server.key", with: "\(certificates.serverKey)")
            .replacingOccurrences(of: "/etc/starling/ca.crt", with: "\(certificates.caCertificate)")
        let configuration = try Self.load(text)
        #expect(configuration.broker.listeners.count >= 4)
    }
}
