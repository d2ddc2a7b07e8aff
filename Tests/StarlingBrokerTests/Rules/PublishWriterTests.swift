import MQTT
import NIOCore
import Testing

@testable import StarlingBroker

/// How a delivery is shaped for one client, without a socket: topic aliases, forwarded properties, the
/// client's Maximum Packet Size and its wish for diagnostics.
@Suite struct PublishWriterTests {
    /// The PUBLISH the writer makes, nil when it makes none.
    static func made(_ packet: Packet?) -> PublishPacket? {
        guard case .publish(let publish) = packet else { return nil }
        return publish
    }

    static func delivery(_ topic: String, payload: Int = 8, properties: Properties = [], identifiers: [Int] = []) -> Delivery {
        Delivery(
            message: Message(topic: topic, payload: ByteBuffer(repeating: 7, count: payload), qos: .atLeastOnce, properties: properties),
            qos: .atLeastOnce, retain: false, subscriptionIdentifiers: identifiers)
    }

    @Test func aliasesAreAssignedThenUsedInPlaceOfTheTopic() throws {
        var writer = PublishWriter(outgoingAliases: OutgoingTopicAliases(capacity: 1))
        let firstMade = Self.made(writer.publish(Self.delivery("a/b"), packetIdentifier: 1, duplicate: false, now: .now(), version: .v5))
        let first = try #require(firstMade)
        #expect(first.topic == "a/b")
        #expect(first.properties.topicAlias == 1)
        let secondMade = Self.made(writer.publish(Self.delivery("a/b"), packetIdentifier: 2, duplicate: false, now: .now(), version: .v5))
        let second = try #require(secondMade)
        #expect(second.topic == "")
        #expect(second.properties.topicAlias == 1)
    }

    @Test func aMessageLargerThanTheClientTakesIsNotMadeAndAssignsNoAlias() throws {
        var writer = PublishWriter(outgoingAliases: OutgoingTopicAliases(capacity: 4), clientMaximumPacketSize: 64)
        let tooLarge = Self.made(writer.publish(Self.delivery("a/b", payload: 100), packetIdentifier: 1, duplicate: false, now: .now(), version: .v5))
        #expect(tooLarge == nil)
        // MQTT-3.1.2-25: discarded, so the alias it would have announced is not taken as known.
        let nextMade = Self.made(writer.publish(Self.delivery("a/b"), packetIdentifier: 2, duplicate: false, now: .now(), version: .v5))
        let next = try #require(nextMade)
        #expect(next.topic == "a/b")
        #expect(next.properties.topicAlias == 1)
    }

    @Test func version5CarriesPropertiesAndSubscriptionIdentifiersAndEarlierVersionsNone() throws {
        var writer = PublishWriter()
        let delivery = Self.delivery("t", properties: [.userProperty("k", "v")], identifiers: [3, 9])
        let v5Made = Self.made(writer.publish(delivery, packetIdentifier: 1, duplicate: true, now: .now(), version: .v5))
        let v5 = try #require(v5Made)
        #expect(v5.properties.subscriptionIdentifiers == [3, 9])
        #expect(v5.properties.contains(.userProperty("k", "v")))
        #expect(v5.duplicate)
        let v311Made = Self.made(writer.publish(delivery, packetIdentifier: 1, duplicate: false, now: .now(), version: .v3_1_1))
        let v311 = try #require(v311Made)
        #expect(v311.properties.isEmpty)
        #expect(v311.topic == "t")
    }

    @Test func diagnosticsAreLeftOutForAClientThatDoesNotWantThem() {
        let ack = Packet.pubAck(AcknowledgementPacket(packetIdentifier: 1, reasonCode: .notAuthorized, properties: [.reasonString("no")]))
        var writer = PublishWriter()
        var kept = ack
        writer.fit(&kept)
        guard case .pubAck(let kept) = kept else { Issue.record("not a PUBACK"); return }
        #expect(kept.properties.reasonString == "no")
        writer.problemInformation = false
        var fitted = ack
        writer.fit(&fitted)
        guard case .pubAck(let fitted) = fitted else { Issue.record("not a PUBACK"); return }
        #expect(fitted.properties.reasonString == nil)
        #expect(fitted.reasonCode == .notAuthorized)
    }
}
