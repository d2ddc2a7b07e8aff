import MQTT
import NIOCore
import NIOSSL
import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// MQTT over TLS: certificates made by `openssl` for the run, client certificates verified against a CA.
@Suite struct TLSListenerTests {
    typealias Authenticator = AuthenticationTests.Authenticator

    static func withTLSBroker<T: Sendable>(
        requireClientCertificate: Bool = false, userNameFromCertificate: Bool = false,
        authenticator: Authenticator? = nil, _ body: (TestBroker, TestCertificates) async throws -> T
    ) async throws -> T {
        let certificates = try TestCertificates.get()
        let tls = try certificates.serverConfiguration(requireClientCertificate: requireClientCertificate)
        return try await TestBroker.with(authenticator: authenticator, { configuration in
            configuration.listeners = [.init(
                host: "127.0.0.1", port: 0, transport: .tls(tls), userNameFromCertificate: userNameFromCertificate)]
        }) { broker in
            try await body(broker, certificates)
        }
    }

    static func connect(_ client: RawClient, _ clientIdentifier: String, userName: String? = nil) async throws -> ConnAckPacket {
        try await client.send(.connect(ConnectPacket(protocolVersion: client.version, clientIdentifier: clientIdentifier, userName: userName)))
        return try await client.expectConnAck()
    }

    @Test func publishAndSubscribeOverTLS() async throws {
        try await Self.withTLSBroker { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration())
            let subscriber = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            #expect(try await Self.connect(subscriber, "tls-sub").reasonCode == .success)
            try await subscriber.subscribe("secure/#")
            let publisher = try await RawClient.open(port: broker.port, version: .v3_1_1, transport: transport)
            #expect(try await Self.connect(publisher, "tls-pub").reasonCode == .success)
            try await publisher.publish("secure/room", "over TLS")
            let message = try await subscriber.expectPublish()
            #expect(message.topic == "secure/room")
            #expect(message.payloadString == "over TLS")
        }
    }

    @Test func plainMQTTOnATLSListenerIsClosed() async throws {
        try await Self.withTLSBroker { broker, _ in
            let client = try await broker.open(version: .v5)
            try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "plain")))
            // What comes back, if anything, is a TLS alert, not CONNACK.
            _ = try await client.expectClosedWithoutPackets()
        }
    }

    @Test func clientWithoutCertificateIsRefusedWhenOneIsRequired() async throws {
        try await Self.withTLSBroker(requireClientCertificate: true) { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration())
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            try? await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "no-certificate")))
            let errors = try await client.expectClosedWithoutPackets()
            #expect(errors.contains { $0.contains("CERTIFICATE_REQUIRED") }, "\(errors)")
        }
    }

    @Test func certificateFromAnUntrustedAuthorityIsRefused() async throws {
        try await Self.withTLSBroker(requireClientCertificate: true) { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration(
                certificate: certificates.untrustedClientCertificate, key: certificates.untrustedClientKey))
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            try? await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "mallory")))
            let errors = try await client.expectClosedWithoutPackets()
            #expect(errors.contains { $0.contains("UNKNOWN_CA") }, "\(errors)")
        }
    }

    @Test func clientCertificateReachesTheAuthenticator() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withTLSBroker(requireClientCertificate: true, authenticator: authenticator) { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration(
                certificate: certificates.clientCertificate, key: certificates.clientKey))
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            #expect(try await Self.connect(client, "alice-device", userName: "someone").reasonCode == .success)
            let request = try #require(authenticator.requests.withLockedValue { $0.first })
            #expect(request.clientCertificate == ClientCertificate(subject: "O=Starling Tests,CN=alice", commonName: "alice"))
            // Without the option, CONNECT's user name stands.
            #expect(request.userName == "someone")
            #expect(request.remoteAddress?.ipAddress == "127.0.0.1")
        }
    }

    @Test func userNameIsTakenFromTheCertificate() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withTLSBroker(requireClientCertificate: true, userNameFromCertificate: true, authenticator: authenticator) {
            broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration(
                certificate: certificates.clientCertificate, key: certificates.clientKey))
            let client = try await RawClient.open(port: broker.port, version: .v3_1_1, transport: transport)
            #expect(try await Self.connect(client, "alice-device", userName: "admin").reasonCode == .success)
            #expect(authenticator.requests.withLockedValue { $0.first?.userName } == "alice")
        }
    }

    @Test func userNameFromCertificateRefusesAClientWithoutOne() async throws {
        // Certificates are optional on this listener, but the user name must come from one.
        try await Self.withTLSBroker(requireClientCertificate: false, userNameFromCertificate: true) { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration())
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            let connAck = try await Self.connect(client, "anonymous", userName: "alice")
            #expect(connAck.reasonCode == .notAuthorized)
            try await client.expectClosed()
        }
    }

    @Test func tlsBelowVersion1_2IsRefused() async throws {
        try await Self.withTLSBroker { broker, certificates in
            var configuration = try certificates.clientConfiguration()
            configuration.minimumTLSVersion = .tlsv1
            configuration.maximumTLSVersion = .tlsv11
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: try RawTransport.tls(configuration))
            try? await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "old-tls")))
            let errors = try await client.expectClosedWithoutPackets()
            #expect(errors.contains { $0.contains("PROTOCOL_VERSION") }, "\(errors)")
        }
    }
}

extension RawClient {
    /// Waits for the broker to close the connection, failing if it sends a packet first; returns the errors
    /// met on the way (a TLS alert, undecodable bytes).
    func expectClosedWithoutPackets() async throws -> [String] {
        var errors: [String] = []
        while true {
            switch try await next() {
            case .closed: return errors
            case .undecodable(let error): errors.append(error)
            case .packet(let packet): throw Failure(description: "expected the connection to close, got \(packet)")
            }
        }
    }
}
