import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// 5.0 Shared Subscriptions (4.8.2).
@Suite struct SharedSubscriptionTests {
    /// 4.8.2: each message published to a shared subscription's topic goes to exactly one session of the group;
    /// ordinary subscriptions to the same topic still get every message. Each member also holds an ordinary
    /// subscription to a marker topic published last, so it has received its share when the marker arrives.
    @Test func eachMessageGoesToOneMemberOfTheGroup() async throws {
        try await TestBroker.with { broker in
            var members: [RawClient] = []
            for index in 0..<2 {
                let member = try await broker.client("member-\(index)", version: .v5)
                try await member.subscribe([
                    ("$share/workers/jobs/+", SubscriptionOptions(qos: .atLeastOnce)),
                    ("done/\(index)", SubscriptionOptions()),
                ])
                members.append(member)
            }
            let observer = try await broker.client("observer", version: .v5)
            try await observer.subscribe("jobs/#")

            let publisher = try await broker.client("publisher", version: .v5)
            for index in 0..<6 { try await publisher.publishQoS1("jobs/\(index)", "\(index)", packetIdentifier: UInt16(index + 1)) }
            for index in 0..<2 { try await publisher.publish("done/\(index)", "done") }

            var shares: [[String]] = []
            for member in members {
                shares.append(try await member.publishes { $0.hasPrefix("done/") }.map(\.payloadString))
            }
            #expect((shares[0] + shares[1]).sorted() == ["0", "1", "2", "3", "4", "5"])
            // The broker takes the members in turn.
            #expect(!shares[0].isEmpty)
            #expect(!shares[1].isEmpty)

            var observed: [String] = []
            for _ in 0..<6 { observed.append(try await observer.expectPublish().payloadString) }
            #expect(observed == ["0", "1", "2", "3", "4", "5"])
        }
    }

    /// MQTT-4.8.2-1, -2: a share name must be non-empty and hold no wildcard, and a filter must follow it; such a
    /// filter is refused with 0x8F (Topic Filter invalid).
    @Test func invalidShareNamesAreRefused() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("sharer", version: .v5)
            let codes = try await client.subscribe([
                ("$share//t", SubscriptionOptions()),
                ("$share/a+/t", SubscriptionOptions()),
                ("$share/group", SubscriptionOptions()),
                ("$share/group/ok", SubscriptionOptions()),
            ])
            #expect(codes == [.topicFilterInvalid, .topicFilterInvalid, .topicFilterInvalid, .grantedQoS0])
        }
    }

    /// 3.3.1.3: retained messages are sent for new non-shared subscriptions only.
    @Test func sharedSubscriptionsGetNoRetainedMessages() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("shared/t", "kept", retain: true)
            let member = try await broker.client("member", version: .v5)
            try await member.subscribe("$share/g/shared/+")
            try await publisher.publish("shared/marker", "marker")
            #expect(try await member.expectPublish().topic == "shared/marker")
        }
    }
    /// MQTT-3.10.4-1 with 4.8.2: UNSUBSCRIBE with the shared filter, share name included, leaves the group.
    @Test func unsubscribeLeavesTheGroup() async throws {
        try await TestBroker.with { broker in
            let member = try await broker.client("member", version: .v5)
            try await member.subscribe([("$share/g/left/t", SubscriptionOptions()), ("left/marker", SubscriptionOptions())])
            try await member.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["$share/g/left/t"])))
            #expect(try await member.expectUnsubAck().reasonCodes == [.success])
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publish("left/t", "unseen")
            try await publisher.publish("left/marker", "marker")
            #expect(try await member.expectPublish().topic == "left/marker")
        }
    }

    /// 4.8.2: the QoS 1 message in flight to a member, and the messages queued behind it, go to another member of
    /// the group when the first member's session ends without acknowledging them; to the new member they are new
    /// messages, DUP 0 (MQTT-3.3.1-3).
    @Test func unacknowledgedMessagesGoToAnotherMemberWhenASessionEnds() async throws {
        try await TestBroker.with { broker in
            // A Receive Maximum of 1 keeps the second message queued behind the first.
            let first = try await broker.client("member-a", properties: [.receiveMaximum(1)])
            try await first.subscribe("$share/g/work/+", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("work/1", "1", packetIdentifier: 1)
            try await publisher.publishQoS1("work/2", "2", packetIdentifier: 2)
            #expect(try await first.expectPublish().payloadString == "1")

            let second = try await broker.client("member-b")
            try await second.subscribe("$share/g/work/+", qos: .atLeastOnce)
            await first.drop()

            let handedOn = [try await second.expectPublish(), try await second.expectPublish()]
            #expect(handedOn.map(\.payloadString) == ["1", "2"])
            #expect(handedOn.map(\.duplicate) == [false, false])
            #expect(handedOn.map(\.qos) == [.atLeastOnce, .atLeastOnce])
        }
    }

    /// MQTT-4.8.2-5: a QoS 2 message already sent to a member whose session ends is not sent to any other member;
    /// a QoS 1 message in flight beside it is.
    @Test func sentQoS2MessagesAreNotHandedOn() async throws {
        try await TestBroker.with { broker in
            let first = try await broker.client("member-a")
            try await first.subscribe("$share/g/work/+", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher")
            try await publisher.send(.publish(PublishPacket(
                topic: "work/2", payload: ByteBuffer(string: "two"), qos: .exactlyOnce, packetIdentifier: 1)))
            #expect(try await publisher.expectPubRec().packetIdentifier == 1)
            try await publisher.publishQoS1("work/1", "one", packetIdentifier: 2)
            #expect(try await first.expectPublish().payloadString == "two")
            #expect(try await first.expectPublish().payloadString == "one")

            let second = try await broker.client("member-b")
            try await second.subscribe([("$share/g/work/+", SubscriptionOptions(qos: .exactlyOnce)), ("marker", SubscriptionOptions())])
            await first.drop()

            // Handed on in order, the QoS 2 message would come first.
            #expect(try await second.expectPublish().payloadString == "one")
            try await publisher.publish("marker", "marker")
            #expect(try await second.expectPublish().topic == "marker")
        }
    }

    /// `.hashByClient`: every message of one publisher goes to the same member while the group stays the same.
    @Test(arguments: [BrokerConfiguration.SharedSubscriptionPolicy.hashByClient, .roundRobin])
    func hashByClientKeepsAPublisherOnOneMember(policy: BrokerConfiguration.SharedSubscriptionPolicy) async throws {
        try await TestBroker.with({ $0.sharedSubscriptionPolicy = policy }) { broker in
            var members: [RawClient] = []
            for index in 0..<2 {
                let member = try await broker.client("member-\(index)")
                try await member.subscribe([("$share/g/sticky/+", SubscriptionOptions(qos: .atLeastOnce)), ("done/\(index)", SubscriptionOptions())])
                members.append(member)
            }
            var publishers: [RawClient] = []
            for name in ["p", "q", "r"] {
                let publisher = try await broker.client(name)
                publishers.append(publisher)
                for index in 0..<4 {
                    try await publisher.publishQoS1("sticky/\(name)", "\(name)\(index)", packetIdentifier: UInt16(index + 1))
                }
            }
            // Each publisher's markers follow its messages; one client's marker could overtake another's messages
            // on their way between loops.
            for publisher in publishers {
                for index in 0..<2 { try await publisher.publish("done/\(index)", "done") }
            }

            var topicsByMember: [Set<String>] = []
            var count = 0
            for member in members {
                let received = try await member.publishes(until: { $0.hasPrefix("done/") }, markers: publishers.count)
                topicsByMember.append(Set(received.map(\.topic)))
                count += received.count
            }
            #expect(count == 12)
            let split = topicsByMember[0].intersection(topicsByMember[1])
            if policy == .hashByClient {
                #expect(split.isEmpty)
            } else {
                // In turn, every publisher's four messages reach both members.
                #expect(split.count == 3)
            }
        }
    }

    /// 4.8.2: turns are taken across the whole broker. The two publishers connect one after the other, so they sit
    /// on the test broker's two different event loops; each message goes to the member after the previous one.
    @Test func membersTakeTurnsAcrossEventLoops() async throws {
        try await TestBroker.with { broker in
            var members: [RawClient] = []
            for index in 0..<2 {
                let member = try await broker.client("member-\(index)")
                try await member.subscribe([("$share/g/turns/+", SubscriptionOptions(qos: .atLeastOnce)), ("done/\(index)", SubscriptionOptions())])
                members.append(member)
            }
            let publishers = [try await broker.client("publisher-a"), try await broker.client("publisher-b")]
            // PUBACK follows the routing, so the messages take their turns in this order.
            for index in 0..<6 {
                try await publishers[index % 2].publishQoS1("turns/t", "\(index)", packetIdentifier: UInt16(index + 1))
            }
            // Each publisher's markers follow its messages; one publisher's marker could overtake the other's last
            // message on its way between loops.
            for publisher in publishers {
                for index in 0..<2 { try await publisher.publish("done/\(index)", "done") }
            }

            var received: [[Int]] = []
            for member in members {
                received.append(try await member.publishes(until: { $0.hasPrefix("done/") }, markers: publishers.count).map { Int($0.payloadString)! })
            }
            let evens = [0, 2, 4], odds = [1, 3, 5]
            #expect(received == [evens, odds] || received == [odds, evens], "received \(received)")
        }
    }

    /// A member whose client is offline, its session kept by Session Expiry, is passed over while another member is
    /// connected: the message reaches a client now rather than waiting in a queue.
    @Test func offlineMembersArePassedOver() async throws {
        try await TestBroker.with { broker in
            let away = try await broker.client("away", properties: [.sessionExpiryInterval(60)])
            try await away.subscribe("$share/g/jobs/+", qos: .atLeastOnce)
            try await away.disconnect()
            let present = try await broker.client("present")
            try await present.subscribe("$share/g/jobs/+", qos: .atLeastOnce)

            let publisher = try await broker.client("publisher")
            for index in 0..<4 { try await publisher.publishQoS1("jobs/\(index)", "\(index)", packetIdentifier: UInt16(index + 1)) }
            var received: [String] = []
            for _ in 0..<4 {
                let publish = try await present.expectPublish()
                received.append(publish.payloadString)
                try await present.send(.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
            }
            #expect(received == ["0", "1", "2", "3"])

            // Back online, the first member has nothing waiting; it takes its turns again.
            let (back, connAck) = try await broker.connect("away", cleanStart: false, properties: [.sessionExpiryInterval(60)])
            #expect(connAck.sessionPresent)
            try await back.subscribe("marker")
            try await publisher.publish("marker", "marker")
            #expect(try await back.expectPublish().topic == "marker")
        }
    }

    /// With no member connected, a message waits in a member's session rather than being lost.
    @Test func withNoMemberConnectedTheMessageWaitsInASession() async throws {
        try await TestBroker.with { broker in
            let away = try await broker.client("away", properties: [.sessionExpiryInterval(60)])
            try await away.subscribe("$share/g/jobs/+", qos: .atLeastOnce)
            try await away.disconnect()
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("jobs/1", "kept", packetIdentifier: 1)

            let (back, connAck) = try await broker.connect("away", cleanStart: false, properties: [.sessionExpiryInterval(60)])
            #expect(connAck.sessionPresent)
            #expect(try await back.expectPublish().payloadString == "kept")
        }
    }

    /// 4.8.2: a client with a shared and a non-shared subscription matching one message gets a copy through each.
    @Test func aSharedAndANonSharedSubscriptionEachGiveACopy() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("both")
            try await client.send(.subscribe(SubscribePacket(
                packetIdentifier: 1,
                subscriptions: [.init(topicFilter: "$share/g/copies/t", options: SubscriptionOptions(qos: .atLeastOnce))],
                properties: [.subscriptionIdentifier(1)])))
            _ = try await client.expectSubAck()
            try await client.send(.subscribe(SubscribePacket(
                packetIdentifier: 2, subscriptions: [.init(topicFilter: "copies/+", options: SubscriptionOptions())],
                properties: [.subscriptionIdentifier(2)])))
            _ = try await client.expectSubAck()

            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("copies/t", "once", packetIdentifier: 1)
            let copies = [try await client.expectPublish(), try await client.expectPublish()]
            let byIdentifier = Dictionary(uniqueKeysWithValues: copies.map { ($0.properties.subscriptionIdentifiers, $0) })
            #expect(byIdentifier[[1]]?.qos == .atLeastOnce)
            #expect(byIdentifier[[2]]?.qos == .atMostOnce)
            #expect(copies.allSatisfy { $0.payloadString == "once" })
        }
    }

    /// 4.8.2: the broker may hand a QoS 1 message on as soon as the connection to its member is lost. A member whose
    /// session outlives its connection leaves its unacknowledged and queued messages to a connected member at once.
    @Test func aLostConnectionHandsItsMessagesToAConnectedMember() async throws {
        try await TestBroker.with { broker in
            let first = try await broker.client("member-a", properties: [.receiveMaximum(1), .sessionExpiryInterval(60)])
            try await first.subscribe("$share/g/work/+", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("work/1", "1", packetIdentifier: 1)
            try await publisher.publishQoS1("work/2", "2", packetIdentifier: 2)
            #expect(try await first.expectPublish().payloadString == "1")

            let second = try await broker.client("member-b")
            try await second.subscribe("$share/g/work/+", qos: .atLeastOnce)
            await first.drop()

            let handedOn = [try await second.expectPublish(), try await second.expectPublish()]
            #expect(handedOn.map(\.payloadString) == ["1", "2"])
            for publish in handedOn { try await second.send(.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!))) }

            // They left the first member's session: back, it is not sent them again.
            let (back, connAck) = try await broker.connect("member-a", cleanStart: false, properties: [.sessionExpiryInterval(60)])
            #expect(connAck.sessionPresent)
            try await back.subscribe("marker")
            try await publisher.publish("marker", "marker")
            #expect(try await back.expectPublish().topic == "marker")
        }
    }
}
