import MQTT
import NIOCore
import NIOSSL
import StarlingBridge
import StarlingBroker
import StarlingClient
import StarlingTestSupport
import StarlingTesting
import Testing

/// Bridges to a real Mosquitto, 3.1.1 and 5.0, and to a remote that wants TLS and a client certificate.
@Suite(.timeLimit(.minutes(2))) struct BridgeRemoteTests {
    @Test(.enabled(if: MosquittoBroker.isInstalled, "needs mosquitto"), arguments: [ProtocolVersion.v5, .v3_1_1])
    func mosquittoAsTheRemoteBothWays(version: ProtocolVersion) async throws {
        try await withMosquitto { mosquitto in
            try await TestBroker.with { local in
                let bridge = try BridgeHarness.bridge(local: local, remote: mosquitto.url, version: version, topics: [
                    BridgeTopicRule(pattern: "up/#", direction: .out, qos: .atLeastOnce, remotePrefix: "edge/"),
                    BridgeTopicRule(pattern: "down/#", direction: .in, qos: .atLeastOnce, remotePrefix: "edge/"),
                    BridgeTopicRule(pattern: "chat/#", direction: .both, qos: .atLeastOnce),
                ])
                let cloud = MQTTClient(configuration: MQTTClientConfiguration(host: "127.0.0.1", port: mosquitto.port, clientIdentifier: "cloud"))
                try await cloud.withConnection { cloud in
                    let fromEdge = try await cloud.subscribe(to: ["edge/up/#", "chat/#"], qos: .atLeastOnce)
                    var received = fromEdge.makeAsyncIterator()
                    let device = try await local.client("device", version: .v5)
                    _ = try await device.subscribe("#", qos: .atLeastOnce)
                    let sender = try await local.client("sender", version: .v5)
                    try await BridgeHarness.run(bridge, local: local) {
                        _ = try await sender.publishQoS1("up/temperature", "20")
                        let up = try #require(try await received.next())
                        #expect(up.topic == "edge/up/temperature")
                        #expect(up.payloadString == "20")
                        #expect(try await device.expectPublish().topic == "up/temperature")

                        try await cloud.publish(topic: "edge/down/light", payload: "off", qos: .atLeastOnce)
                        let down = try await device.expectPublish()
                        #expect(down.topic == "down/light")
                        #expect(down.payloadString == "off")

                        // chat/# goes both ways: a local message reaches the cloud once and does not come back.
                        _ = try await sender.publishQoS1("chat/hello", "from the edge", packetIdentifier: 2)
                        #expect(try await device.expectPublish().topic == "chat/hello")
                        let chat = try #require(try await received.next())
                        #expect(chat.topic == "chat/hello")
                        try await cloud.publish(topic: "chat/reply", payload: "from the cloud", qos: .atLeastOnce)
                        #expect(try await device.expectPublish().topic == "chat/reply")
                        // The reply went no further than the edge; a marker shows no copy of either came back.
                        try await cloud.publish(topic: "edge/down/marker", payload: "m", qos: .atLeastOnce)
                        #expect(try await device.expectPublish().topic == "down/marker")
                        let next = try #require(try await received.next())
                        #expect(next.topic == "chat/reply")
                    }
                }
            }
        }
    }

    @Test func aRemoteThatWantsTLSAndAClientCertificate() async throws {
        let certificates = try TestCertificates.get()
        let serverTLS = try certificates.serverConfiguration(requireClientCertificate: true)
        try await TestBroker.with({ configuration in
            configuration.listeners = [.init(host: "127.0.0.1", port: 0, transport: .tls(serverTLS))]
        }) { remote in
            try await TestBroker.with { local in
                var clientTLS = try certificates.clientConfiguration(certificate: certificates.clientCertificate, key: certificates.clientKey)
                clientTLS.certificateVerification = .noHostnameVerification
                let bridge = try BridgeHarness.bridge(
                    local: local, remote: "mqtts://127.0.0.1:\(remote.port)", topics: [BridgeTopicRule(pattern: "secure/#", direction: .in)],
                    tls: clientTLS)
                let device = try await local.client("device", version: .v5)
                _ = try await device.subscribe("secure/#", qos: .atMostOnce)
                try await BridgeHarness.run(bridge, local: local) {
                    let transport = try RawTransport.tls(try certificates.clientConfiguration(
                        certificate: certificates.clientCertificate, key: certificates.clientKey))
                    let cloud = try await RawClient.open(port: remote.port, version: .v5, transport: transport)
                    try await cloud.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "cloud")))
                    _ = try await cloud.expectConnAck()
                    try await cloud.publish("secure/a", "over TLS")
                    #expect(try await device.expectPublish().payloadString == "over TLS")
                }
            }
        }
    }
}
