import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Retained messages (3.3.1.3 of both specifications).
///
/// Retained messages for a new subscription are sent right after its SUBACK, before anything published later,
/// so a marker published after SUBACK shows that no (further) retained message was sent.
@Suite struct RetainedTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    /// 3.1.1 MQTT-3.3.1-5, -6, -8; 5.0 MQTT-3.3.1-5, -9: a retained message is stored and sent to a new
    /// subscription with RETAIN 1, at the lower of its QoS and the granted QoS.
    @Test(arguments: versions)
    func retainedMessageIsSentToNewSubscriptions(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("kept/t", "kept", retain: true)

            let subscriber = try await broker.client("late", version: version)
            try await subscriber.subscribe("kept/#", qos: .exactlyOnce)
            let retained = try await subscriber.expectPublish()
            #expect(retained.topic == "kept/t")
            #expect(retained.retain == true)
            #expect(retained.qos == .atLeastOnce)
            #expect(retained.payloadString == "kept")

            let atMostOnce = try await broker.client("late-qos0", version: version)
            try await atMostOnce.subscribe("kept/t", qos: .atMostOnce)
            let downgraded = try await atMostOnce.expectPublish()
            #expect(downgraded.qos == .atMostOnce)
            #expect(downgraded.retain == true)
        }
    }

    /// 3.1.1 MQTT-3.3.1-9, 5.0 MQTT-3.3.1-12: a retained message forwarded to an existing subscription (without
    /// Retain As Published) carries RETAIN 0.
    @Test(arguments: versions)
    func retainFlagIsClearedForExistingSubscriptions(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("early", version: version)
            try await subscriber.subscribe("live/t")
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("live/t", "now", retain: true)
            let live = try await subscriber.expectPublish()
            #expect(live.retain == false)
            #expect(live.payloadString == "now")
        }
    }

    /// 3.1.1 MQTT-3.3.1-5 and -12, 5.0 MQTT-3.3.1-5 and -8: a new retained message replaces the old one; a
    /// PUBLISH with RETAIN 0 neither replaces nor removes it.
    @Test(arguments: versions)
    func retainedMessageIsReplacedOnlyByRetainedMessages(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("swap/t", "first", retain: true)
            try await publisher.publishQoS1("swap/t", "second", retain: true)
            try await publisher.publishQoS1("swap/t", "passing", retain: false)

            let subscriber = try await broker.client("late", version: version)
            try await subscriber.subscribe("swap/+")
            try await publisher.publish("swap/marker", "marker")
            let retained = try await subscriber.expectPublish()
            #expect(retained.payloadString == "second")
            #expect(retained.retain == true)
            #expect(try await subscriber.expectPublish().topic == "swap/marker")
        }
    }

    /// 3.1.1 MQTT-3.3.1-10, -11, 5.0 MQTT-3.3.1-6, -7: a retained PUBLISH with an empty payload removes the
    /// retained message of its topic and is not stored itself, yet it is forwarded to current subscribers as usual.
    @Test(arguments: versions)
    func emptyRetainedMessageDeletesTheRetainedMessage(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("del/a", "a", retain: true)
            try await publisher.publishQoS1("del/b", "b", retain: true)

            let current = try await broker.client("current", version: version)
            try await current.subscribe("del/a")
            #expect(try await current.expectPublish().payloadString == "a")
            try await publisher.publishQoS1("del/a", "", retain: true)
            let forwarded = try await current.expectPublish()
            #expect(forwarded.topic == "del/a")
            #expect(forwarded.payload.readableBytes == 0)

            let late = try await broker.client("late", version: version)
            try await late.subscribe("del/+")
            try await publisher.publish("del/marker", "marker")
            #expect(try await late.expectPublish().topic == "del/b")
            #expect(try await late.expectPublish().topic == "del/marker")
        }
    }

    /// 4.7.2 with 3.3.1.3: retained messages on "$" topics are not sent to a subscription that starts with a
    /// wildcard (MQTT-4.7.2-1).
    @Test func retainedDollarTopicsAreNotSentToLeadingWildcards() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("$SYS/uptime", "1", retain: true)
            try await publisher.publishQoS1("visible", "2", retain: true)
            let subscriber = try await broker.client("all", version: .v5)
            try await subscriber.subscribe("#")
            try await publisher.publish("marker", "marker")
            #expect(try await subscriber.expectPublish().topic == "visible")
            #expect(try await subscriber.expectPublish().topic == "marker")
        }
    }

    /// 4.7.1 with 3.3.1.3: retained messages are matched by every kind of filter: "+" for one level (an empty one
    /// too), "#" for the parent level and all below (MQTT-4.7.1-2), neither for "$" topics at the first level
    /// (MQTT-4.7.2-1); a deleted one no longer matches. They arrive in topic order.
    @Test func retainedMessagesMatchWildcardFilters() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher")
            let topics = ["a", "a/b", "a/b/c", "a/x/c", "a//c", "$data/x", "/lead", "b", "ab/c"]
            for (index, topic) in topics.enumerated() {
                try await publisher.publishQoS1(topic, topic, packetIdentifier: UInt16(index + 1), retain: true)
            }
            try await publisher.publishQoS1("a/x/c", "", packetIdentifier: 20, retain: true)

            let expectations: [(String, [String])] = [
                ("a/#", ["a", "a//c", "a/b", "a/b/c"]),
                ("a/+/c", ["a//c", "a/b/c"]),
                ("+/b", ["a/b"]),
                ("+", ["a", "b"]),
                ("+/+", ["/lead", "a/b", "ab/c"]),
                ("#", ["/lead", "a", "a//c", "a/b", "a/b/c", "ab/c", "b"]),
                ("$data/#", ["$data/x"]),
                ("+/+/+", ["a//c", "a/b/c"]),
                ("a/b/c/#", ["a/b/c"]),
                ("nothing/#", []),
            ]
            for (index, (filter, expected)) in expectations.enumerated() {
                let subscriber = try await broker.client("subscriber-\(index)")
                try await subscriber.subscribe([(filter, SubscriptionOptions()), ("marker/\(index)", SubscriptionOptions())])
                try await publisher.publish("marker/\(index)", "marker")
                let received = try await subscriber.publishes { $0 == "marker/\(index)" }
                let allRetained = received.allSatisfy { $0.retain }
                let topics = received.map(\.topic)
                #expect(allRetained)
                #expect(topics == expected, "filter \(filter)")
            }
        }
    }

    /// `maximumRetainedMessages` and `maximumRetainedBytes` bound the store: a retained message on a new topic
    /// beyond them is delivered to current subscribers but not kept; replacing or deleting a kept one still works.
    @Test func retainedStoreIsBounded() async throws {
        try await TestBroker.with({
            $0.limits.maximumRetainedMessages = 2
            $0.limits.maximumRetainedBytes = 12
        }) { broker in
            let live = try await broker.client("live")
            try await live.subscribe("bounded/+")
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("bounded/a", "aaaa", packetIdentifier: 1, retain: true)
            try await publisher.publishQoS1("bounded/b", "bbbb", packetIdentifier: 2, retain: true)
            try await publisher.publishQoS1("bounded/c", "cccc", packetIdentifier: 3, retain: true)
            for expected in ["aaaa", "bbbb", "cccc"] { #expect(try await live.expectPublish().payloadString == expected) }

            func kept(_ name: String) async throws -> [String] {
                let late = try await broker.client(name)
                try await late.subscribe([("bounded/+", SubscriptionOptions()), ("marker/\(name)", SubscriptionOptions())])
                try await publisher.publish("marker/\(name)", "marker")
                return try await late.publishes { $0.hasPrefix("marker/") }.map(\.payloadString)
            }
            #expect(try await kept("first") == ["aaaa", "bbbb"])
            // Replacing a kept message needs no new room, as long as the bytes fit.
            try await publisher.publishQoS1("bounded/a", "AAAAAAAA", packetIdentifier: 4, retain: true)
            #expect(try await kept("second") == ["AAAAAAAA", "bbbb"])
            // Over the byte bound: the old message stays.
            try await publisher.publishQoS1("bounded/b", "BBBBBBBBB", packetIdentifier: 5, retain: true)
            #expect(try await kept("third") == ["AAAAAAAA", "bbbb"])
            // Deleting one makes room for another.
            try await publisher.publishQoS1("bounded/b", "", packetIdentifier: 6, retain: true)
            try await publisher.publishQoS1("bounded/c", "cccc", packetIdentifier: 7, retain: true)
            #expect(try await kept("fourth") == ["AAAAAAAA", "cccc"])
        }
    }
}
