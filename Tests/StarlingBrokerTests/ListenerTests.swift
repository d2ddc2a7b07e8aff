import MQTT
import NIOCore
import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// Listener-level limits and several listeners on one broker.
@Suite struct ListenerTests {
    @Test func maximumConnectionsPerListener() async throws {
        try await TestBroker.with({ $0.listeners = [.init(host: "127.0.0.1", port: 0, maximumConnections: 1)] }) { broker in
            let first = try await broker.client("first")
            let second = try await broker.open()
            try? await second.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "second")))
            try await second.expectClosed()
            // The first connection is unaffected, and its place is free again once it is gone.
            try await first.send(.pingReq)
            #expect(try await first.nextPacket() == .pingResp)
            try await first.disconnect()
            let third = try await Self.retryingConnect(broker, "third")
            try await third.disconnect()
        }
    }

    /// The count drops when the broker notices the close, just after the client does: a few attempts allow for that.
    static func retryingConnect(_ broker: TestBroker, _ clientIdentifier: String) async throws -> RawClient {
        var lastError: (any Error)?
        for _ in 0..<50 {
            do {
                return try await broker.client(clientIdentifier)
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw lastError!
    }

    /// A connection that never finishes its PROXY header, TLS handshake or WebSocket upgrade is closed after the
    /// connect timeout, as one that never sends CONNECT is.
    @Test(arguments: ["proxy", "tls", "webSocket"])
    func silentConnectionBeforeMQTTIsClosed(_ kind: String) async throws {
        let tls = try TestCertificates.get().serverConfiguration()
        try await TestBroker.with({ configuration in
            let listener: BrokerConfiguration.Listener = switch kind {
            case "proxy": .init(host: "127.0.0.1", port: 0, proxyProtocol: true)
            case "tls": .init(host: "127.0.0.1", port: 0, transport: .tls(tls))
            default: .init(host: "127.0.0.1", port: 0, transport: .webSocket(path: "/mqtt"))
            }
            configuration.listeners = [listener]
            configuration.limits.connectTimeout = .milliseconds(300)
        }) { broker in
            let client = try await broker.open()
            _ = try await client.expectClosedWithoutPackets()
        }
    }

    @Test func severalListenersServeOneBroker() async throws {
        try await TestBroker.with({
            $0.listeners = [.init(host: "127.0.0.1", port: 0), .init(host: "127.0.0.1", port: 0, transport: .webSocket(path: "/mqtt"))]
        }) { broker in
            let addresses = broker.addresses
            #expect(addresses.count == 2)
            let subscriber = try await RawClient.open(port: addresses[1].port!, version: .v5, transport: try RawTransport.webSocket())
            try await subscriber.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "ws")))
            #expect(try await subscriber.expectConnAck().reasonCode == .success)
            try await subscriber.subscribe("both/#")
            let publisher = try await broker.client("tcp")
            try await publisher.publish("both/ways", "from TCP to WebSocket")
            #expect(try await subscriber.expectPublish().payloadString == "from TCP to WebSocket")
        }
    }
}
