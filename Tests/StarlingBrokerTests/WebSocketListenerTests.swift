import MQTT
import NIOCore
import NIOPosix
import NIOSSL
import StarlingBroker
import StarlingClient
import StarlingTestSupport
import StarlingTesting
import Testing

/// MQTT over WebSocket (section 6 of both specifications), with the raw client and with the client library.
@Suite struct WebSocketListenerTests {
    static func withWebSocketBroker<T: Sendable>(tls: Bool = false, _ body: (TestBroker) async throws -> T) async throws -> T {
        let transport: BrokerConfiguration.Listener.Transport =
            tls ? .webSocketTLS(path: "/mqtt", try TestCertificates.get().serverConfiguration()) : .webSocket(path: "/mqtt")
        return try await TestBroker.with({ $0.listeners = [.init(host: "127.0.0.1", port: 0, transport: transport)] }, body)
    }

    @Test func packetsSplitAcrossFramesAndSeveralInOneFrame() async throws {
        try await Self.withWebSocketBroker { broker in
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: try RawTransport.webSocket())
            let connect = try Packet.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "ws-frames")).encoded(version: .v5)
            let subscribe = try Packet.subscribe(SubscribePacket(
                packetIdentifier: 7, subscriptions: [.init(topicFilter: "ws/#", options: SubscriptionOptions(qos: .atMostOnce))]))
                .encoded(version: .v5)
            let publish = try Packet.publish(PublishPacket(topic: "ws/one", payload: ByteBuffer(string: "framed")))
                .encoded(version: .v5)
            let connectBytes = Array(connect.readableBytesView)
            // CONNECT in two frames; the second also carries SUBSCRIBE and PUBLISH whole.
            try await client.send(bytes: Array(connectBytes.prefix(5)))
            try await client.send(bytes: Array(connectBytes.dropFirst(5)) + Array(subscribe.readableBytesView) + Array(publish.readableBytesView))
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(try await client.expectSubAck().packetIdentifier == 7)
            let message = try await client.expectPublish()
            #expect(message.topic == "ws/one")
            #expect(message.payloadString == "framed")
        }
    }

    @Test func packetInAFragmentedMessage() async throws {
        try await Self.withWebSocketBroker { broker in
            let client = try await RawClient.open(port: broker.port, version: .v3_1_1, transport: try RawTransport.webSocket())
            let connect = try Array(Packet.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "ws-fragments"))
                .encoded(version: .v3_1_1).readableBytesView)
            // One WebSocket message in three fragments: binary without FIN, then continuations.
            try await client.channel.eventLoop.submit {
                let frames = try client.channel.pipeline.syncOperations.handler(type: ClientWebSocketFrames.self)
                frames.send(.binary, Array(connect.prefix(3)), fin: false)
                frames.send(.continuation, Array(connect.dropFirst(3).prefix(4)), fin: false)
                frames.send(.continuation, Array(connect.dropFirst(7)), fin: true)
            }.get()
            #expect(try await client.expectConnAck().reasonCode == .success)
        }
    }

    @Test func textFrameClosesTheConnection() async throws {
        // MQTT-6.0.0-1: MQTT travels in binary frames; a text frame means the peer does not speak MQTT.
        try await Self.withWebSocketBroker { broker in
            let client = try await broker.connect(over: try RawTransport.webSocket(), "ws-text")
            try await client.subscribe("t")
            // A 5.0 PUBLISH to "t" whose bytes are all ASCII: taken as MQTT, it would come back to the client.
            let publish: [UInt8] = [0x30, 0x05, 0x00, 0x01, 0x74, 0x00, 0x78]
            try await client.channel.eventLoop.submit {
                try client.channel.pipeline.syncOperations.handler(type: ClientWebSocketFrames.self).send(.text, publish)
            }.get()
            try await client.expectClosed()
        }
    }

    @Test func pingFrameLeavesTheConnectionUp() async throws {
        try await Self.withWebSocketBroker { broker in
            let client = try await broker.connect(over: try RawTransport.webSocket(), "ws-ping")
            try await client.channel.eventLoop.submit {
                try client.channel.pipeline.syncOperations.handler(type: ClientWebSocketFrames.self).send(.ping, Array("are you there".utf8))
            }.get()
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)
        }
    }

    @Test(arguments: ["mqtt", "mqttv3.1", "chat, mqtt"])
    func subprotocolIsAccepted(_ offered: String) async throws {
        try await Self.withWebSocketBroker { broker in
            let version: ProtocolVersion = offered == "mqttv3.1" ? .v3_1 : .v3_1_1
            let client = try await RawClient.open(port: broker.port, version: version, transport: try RawTransport.webSocket(subprotocols: offered))
            try await client.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "ws-sub")))
            #expect(try await client.expectConnAck().reasonCode == .success)
        }
    }

    @Test func otherPathIsNotUpgraded() async throws {
        try await Self.withWebSocketBroker { (broker: TestBroker) -> Void in
            await #expect(throws: (any Error).self) {
                _ = try await RawClient.open(port: broker.port, version: .v5, transport: try RawTransport.webSocket(path: "/elsewhere"))
            }
        }
    }

    /// An upgrade request whose headers run past `maximumUpgradeHeadBytes` (16 KiB by default, well below the
    /// HTTP decoder's own 80 KiB bound on headers) is answered 431, or at least closed, never upgraded.
    @Test(arguments: [false, true])
    func oversizeUpgradeHeadIsRefused(tls: Bool) async throws {
        try await Self.withWebSocketBroker(tls: tls) { broker in
            var request = "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
            for line in 0..<32 { request += "X-Padding-\(line): \(String(repeating: "p", count: 1_000))\r\n" }
            request += "\r\n"
            let outcome = try await RawHTTPExchange.send(
                Array(request.utf8), port: broker.port, tls: tls ? try TestCertificates.get().clientConfiguration() : nil)
            #expect(!outcome.response.contains(" 101 "))
            #expect(outcome.closed)
            #expect(outcome.response.isEmpty || outcome.response.hasPrefix("HTTP/1.1 431 "))
            #expect(try await broker.broker.statistics().upgradeHeadsRefused == 1)
        }
    }

    @Test func upgradeHeadWithinTheLimitIsUpgraded() async throws {
        try await TestBroker.with({
            $0.listeners = [.init(host: "127.0.0.1", port: 0, transport: .webSocket(path: "/mqtt"))]
            $0.limits.maximumUpgradeHeadBytes = 1_024
        }) { broker in
            let client = try await broker.connect(over: try RawTransport.webSocket(), "ws-small-head")
            // Once upgraded, the limit no longer applies: a message larger than it goes through.
            try await client.subscribe("head/t")
            let payload = String(repeating: "m", count: 4_096)
            try await client.publish("head/t", payload)
            #expect(try await client.expectPublish().payloadString == payload)
            #expect(try await broker.broker.statistics().upgradeHeadsRefused == 0)
        }
    }

    @Test func clientLibraryOverWebSocket() async throws {
        try await Self.withWebSocketBroker { broker in
            try await Self.roundTrip(url: "ws://127.0.0.1:\(broker.port)/mqtt", tls: nil)
        }
    }

    @Test func clientLibraryOverWebSocketTLS() async throws {
        try await Self.withWebSocketBroker(tls: true) { broker in
            try await Self.roundTrip(url: "wss://127.0.0.1:\(broker.port)/mqtt", tls: try TestCertificates.get().clientConfiguration())
        }
    }

    /// Subscribes and publishes with the client library, then checks the message came back.
    static func roundTrip(url: String, tls: TLSConfiguration?) async throws {
        var configuration = try MQTTClientConfiguration(url: url, clientIdentifier: "ws-library")
        if let tls { configuration.tls = tls }
        configuration.reconnect = .disabled
        try await withMQTTClient(configuration: configuration) { client in
            let subscription = try await client.subscribe(to: "library/#")
            try await client.publish(topic: "library/ws", payload: "over WebSocket", qos: .atLeastOnce)
            var iterator = subscription.makeAsyncIterator()
            let message = try #require(try await iterator.next())
            #expect(message.topic == "library/ws")
            #expect(message.payloadString == "over WebSocket")
        }
    }
}

extension TestBroker {
    /// Opens a raw client over `transport` and checks that the broker accepts its CONNECT.
    func connect(over transport: @escaping RawClient.Transport, _ clientIdentifier: String, version: ProtocolVersion = .v5) async throws -> RawClient {
        let client = try await RawClient.open(port: port, version: version, transport: transport)
        try await client.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: clientIdentifier)))
        let connAck = try await client.expectConnAck()
        guard connAck.reasonCode == .success else {
            throw RawClient.Failure(description: "CONNECT of \(clientIdentifier) refused: \(connAck)")
        }
        return client
    }
}
