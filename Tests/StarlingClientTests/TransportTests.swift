import NIOCore
import NIOSSL
import StarlingClient
import StarlingTestSupport
import Testing

/// WebSocket and TLS transports, against mosquitto only: Starling's broker has no TLS or WebSocket listener yet.
@Suite(.enabled(if: MosquittoBroker.isInstalled, "needs mosquitto at /usr/sbin/mosquitto"), .timeLimit(.minutes(1)))
struct TransportTests {
    /// Publishes a retained message through `configuration` and reads it back through a second client.
    static func roundTrip(_ configuration: MQTTClientConfiguration) async throws {
        try await withMQTTClient(configuration: configuration) { client in
            try await client.publish(topic: "transport", payload: "through", qos: .exactlyOnce, retain: true)
        }
        try await withMQTTClient(configuration: configuration.withNewIdentifier()) { client in
            let subscription = try await client.subscribe(to: "transport", qos: .atLeastOnce)
            var messages = subscription.makeAsyncIterator()
            let message = try #require(try await messages.next())
            #expect(message.payloadString == "through" && message.retain)
        }
    }

    static func tls(_ certificates: TestCertificates, caFile: String? = nil, clientCertificate: Bool = false) throws -> TLSConfiguration {
        try MQTTClientConfiguration.tls(
            caFile: caFile ?? certificates.caCertificate,
            certificateFile: clientCertificate ? certificates.clientCertificate : nil,
            keyFile: clientCertificate ? certificates.clientKey : nil)
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func webSocket(version: ProtocolVersion) async throws {
        try await withMosquitto { broker in
            var configuration = try MQTTClientConfiguration(url: "ws://127.0.0.1:\(broker.webSocketPort)/mqtt")
            configuration.protocolVersion = version
            #expect(configuration.transport == .webSocket(path: "/mqtt"))
            try await Self.roundTrip(configuration)
        }
    }

    @Test func tlsWithTheBrokersCA() async throws {
        try await withMosquitto(tls: true) { broker in
            var configuration = try MQTTClientConfiguration(url: "mqtts://127.0.0.1:\(broker.tlsPort!)")
            configuration.tls = try Self.tls(broker.certificates!)
            try await Self.roundTrip(configuration)
        }
    }

    @Test func tlsCheckedAgainstTheServerName() async throws {
        try await withMosquitto(tls: true) { broker in
            var configuration = try MQTTClientConfiguration(url: "mqtts://localhost:\(broker.tlsPort!)")
            configuration.host = "127.0.0.1"
            configuration.tlsServerName = "localhost"
            configuration.tls = try Self.tls(broker.certificates!)
            try await Self.roundTrip(configuration)
        }
    }

    @Test func secureWebSocket() async throws {
        try await withMosquitto(tls: true) { broker in
            var configuration = try MQTTClientConfiguration(url: "wss://127.0.0.1:\(broker.secureWebSocketPort!)/")
            configuration.tls = try Self.tls(broker.certificates!)
            try await Self.roundTrip(configuration)
        }
    }

    @Test func clientCertificate() async throws {
        try await withMosquitto(tls: true) { broker in
            var configuration = try MQTTClientConfiguration(url: "mqtts://127.0.0.1:\(broker.mutualTLSPort!)")
            configuration.tls = try Self.tls(broker.certificates!)
            configuration.reconnect = .disabled
            let refused = await #expect(throws: MQTTClientError.self) {
                try await withMQTTClient(configuration: configuration) { _ in }
            }
            #expect(refused?.code == .connectFailed)
            configuration.tls = try Self.tls(broker.certificates!, clientCertificate: true)
            try await Self.roundTrip(configuration)
        }
    }

    @Test func untrustedBrokerCertificateFailsToConnect() async throws {
        try await withMosquitto(tls: true) { broker in
            var configuration = try MQTTClientConfiguration(url: "mqtts://127.0.0.1:\(broker.tlsPort!)")
            configuration.tls = try Self.tls(broker.certificates!, caFile: broker.certificates!.untrustedCACertificate)
            let error = await #expect(throws: MQTTClientError.self) {
                try await withMQTTClient(configuration: configuration) { _ in }
            }
            #expect(error?.code == .connectFailed)
            #expect(error?.underlying is NIOSSLError)
            #expect(error.map { "\($0)" }?.hasSuffix(
                ": the broker's certificate is not trusted (certificate verify failed); give its authority with --cafile") == true,
                "\(String(describing: error))")
        }
    }
}
