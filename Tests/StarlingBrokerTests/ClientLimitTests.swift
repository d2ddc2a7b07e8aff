import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Limits that protect the broker from one client: payload size, publish rate and bandwidth, connection rate.
@Suite struct ClientLimitTests {
    /// 5.0: a payload over `maximumPayloadSize` gets PUBACK 0x97 Quota exceeded (an administratively imposed
    /// limit, 3.4.2.1) and is not routed.
    @Test func oversizedPayloadsGetQuotaExceeded() async throws {
        try await TestBroker.with({ $0.limits.maximumPayloadSize = 8 }) { broker in
            let subscriber = try await broker.client("s")
            try await subscriber.subscribe("t")
            let publisher = try await broker.client("p")
            #expect(try await publisher.publishQoS1("t", "123456789").reasonCode == .quotaExceeded)
            try await publisher.publish("t", "also too long")
            #expect(try await publisher.publishQoS1("t", "12345678", packetIdentifier: 2).reasonCode == .success)
            #expect(try await subscriber.expectPublish().payloadString == "12345678")
        }
    }

    /// 3.1.1 has no reason codes in PUBACK: an oversized message is acknowledged and dropped.
    @Test func v311OversizedPayloadsAreDropped() async throws {
        try await TestBroker.with({ $0.limits.maximumPayloadSize = 8 }) { broker in
            let subscriber = try await broker.client("s")
            try await subscriber.subscribe("t")
            let publisher = try await broker.client("p", version: .v3_1_1)
            try await publisher.publishQoS1("t", "123456789")
            try await publisher.publishQoS1("t", "fits", packetIdentifier: 2)
            #expect(try await subscriber.expectPublish().payloadString == "fits")
        }
    }

    /// Beyond the burst of the publish rate, 5.0 QoS 1 messages get 0x97 until tokens come back.
    @Test func thePublishRateIsLimitedPerClient() async throws {
        try await TestBroker.with({ $0.limits.publishRate = RateLimit(perSecond: 0.001, burst: 3) }) { broker in
            let publisher = try await broker.client("p")
            var codes: [ReasonCode] = []
            for identifier in UInt16(1)...5 {
                codes.append(try await publisher.publishQoS1("t", "m", packetIdentifier: identifier).reasonCode)
            }
            #expect(codes == [.noMatchingSubscribers, .noMatchingSubscribers, .noMatchingSubscribers, .quotaExceeded, .quotaExceeded])
            // The limit is per client: another one still has its burst.
            let other = try await broker.client("q")
            #expect(try await other.publishQoS1("t", "m").reasonCode == .noMatchingSubscribers)
        }
    }

    @Test func theBandwidthIsLimitedPerClient() async throws {
        try await TestBroker.with({ $0.limits.publishBandwidth = RateLimit(perSecond: 0.001, burst: 10) }) { broker in
            let publisher = try await broker.client("p")
            #expect(try await publisher.publishQoS1("t", "123456", packetIdentifier: 1).reasonCode == .noMatchingSubscribers)
            #expect(try await publisher.publishQoS1("t", "123456", packetIdentifier: 2).reasonCode == .quotaExceeded)
            #expect(try await publisher.publishQoS1("t", "1234", packetIdentifier: 3).reasonCode == .noMatchingSubscribers)
        }
    }

    /// Tokens come back with time: the bucket refills at its rate (one every 10 s here, so that the second publish
    /// comes before the refill even on a loaded machine).
    @Test func theRateRecovers() async throws {
        try await TestBroker.with({ $0.limits.publishRate = RateLimit(perSecond: 0.1, burst: 1) }) { broker in
            let publisher = try await broker.client("p")
            #expect(try await publisher.publishQoS1("t", "m", packetIdentifier: 1).reasonCode == .noMatchingSubscribers)
            #expect(try await publisher.publishQoS1("t", "m", packetIdentifier: 2).reasonCode == .quotaExceeded)
            let deadline = ContinuousClock.now + .seconds(30)
            var recovered = false
            var identifier: UInt16 = 3
            while !recovered && ContinuousClock.now < deadline {
                recovered = try await publisher.publishQoS1("t", "m", packetIdentifier: identifier).reasonCode == .noMatchingSubscribers
                identifier = identifier == .max ? 1 : identifier + 1
            }
            #expect(recovered)
        }
    }

    /// Beyond the burst of CONNECTs from one address: 0x9F Connection rate exceeded (5.0), 0x03 (3.1.1).
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func theConnectionRateIsLimitedPerAddress(version: ProtocolVersion) async throws {
        try await TestBroker.with({ $0.limits.connectionRatePerAddress = RateLimit(perSecond: 0.001, burst: 2) }) { broker in
            _ = try await broker.client("one", version: version)
            _ = try await broker.client("two", version: version)
            let third = try await broker.open(version: version)
            try await third.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "three")))
            let connAck = try await third.expectConnAck()
            #expect(connAck.reasonCode == (version == .v5 ? .connectionRateExceeded : ConnectReturnCode.serverUnavailable.reasonCode))
            try await third.expectClosed()
        }
    }
}
