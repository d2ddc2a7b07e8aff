import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Will messages (3.1.2.5 to 3.1.2.7, 3.1.3.2 of both specifications).
///
/// That a will is *not* published is shown with a marker published after the will's connection has closed:
/// the broker publishes a will while it closes the connection, so a wrongly published will arrives first.
@Suite struct WillTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    static func will(_ topic: String, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []) -> ConnectPacket.Will {
        ConnectPacket.Will(topic: topic, payload: ByteBuffer(string: "last words"), qos: qos, retain: retain, properties: properties)
    }

    /// MQTT-3.1.2-8 (both versions): the will is published when the connection closes without DISCONNECT, with
    /// its QoS, and retained when Will Retain is 1 (3.1.1 MQTT-3.1.2-17, 5.0 MQTT-3.1.2-15).
    @Test(arguments: versions)
    func willIsPublishedWhenTheConnectionIsLost(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: version)
            try await watcher.subscribe("will/lost", qos: .atLeastOnce)
            let doomed = try await broker.client("doomed", version: version, will: Self.will("will/lost", qos: .atLeastOnce, retain: true))
            await doomed.drop()

            let will = try await watcher.expectPublish()
            #expect(will.topic == "will/lost")
            #expect(will.payloadString == "last words")
            #expect(will.qos == .atLeastOnce)

            let late = try await broker.client("late", version: version)
            try await late.subscribe("will/lost")
            let retained = try await late.expectPublish()
            #expect(retained.retain == true)
            #expect(retained.payloadString == "last words")
        }
    }

    /// 3.1.1 MQTT-3.1.2-10, MQTT-3.14.4-3; 5.0 MQTT-3.1.2-10, MQTT-3.14.4-3: DISCONNECT (0x00 in 5.0) deletes the
    /// will without publishing it.
    @Test(arguments: versions)
    func willIsNotPublishedAfterDisconnect(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: version)
            try await watcher.subscribe("will/#")
            let polite = try await broker.client("polite", version: version, will: Self.will("will/polite"))
            try await polite.disconnect()

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("will/marker", "marker")
            #expect(try await watcher.expectPublish().topic == "will/marker")
        }
    }

    /// 5.0 §3.14.2.1: DISCONNECT with 0x04 (Disconnect with Will Message) ends the connection and publishes the will.
    @Test func v5DisconnectWithWillMessagePublishesTheWill() async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.subscribe("will/asked")
            let client = try await broker.client("asking", version: .v5, will: Self.will("will/asked"))
            try await client.disconnect(.disconnectWithWillMessage)
            #expect(try await watcher.expectPublish().topic == "will/asked")
        }
    }

    /// 3.1.1 MQTT-3.1.4-2, 5.0 MQTT-3.1.4-3 with MQTT-3.1.2-8: a connection closed because another took its session
    /// over did not end with DISCONNECT, so its will is published (5.0: its Will Delay Interval is 0).
    @Test(arguments: versions)
    func willIsPublishedOnTakeOver(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: version)
            try await watcher.subscribe("will/taken")
            let old = try await broker.client("twin", version: version, will: Self.will("will/taken"))
            _ = try await broker.client("twin", version: version)
            if version == .v5 { #expect(try await old.expectDisconnect().reasonCode == .sessionTakenOver) }
            try await old.expectClosed()
            #expect(try await watcher.expectPublish().topic == "will/taken")
        }
    }

    /// 5.0 MQTT-3.1.3-9: a client that reconnects to its session within the Will Delay Interval cancels its will.
    @Test func v5ReconnectingWithinTheWillDelayCancelsTheWill() async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.subscribe("will/#")
            let persistent: Properties = [.sessionExpiryInterval(60)]
            let delayed = Self.will("will/delayed", properties: [.willDelayInterval(60)])
            let first = try await broker.client("flaky", version: .v5, cleanStart: false, will: delayed, properties: persistent)
            await first.drop()
            let (second, connAck) = try await broker.connect("flaky", version: .v5, cleanStart: false, properties: persistent)
            #expect(connAck.sessionPresent == true)
            try await second.disconnect()

            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publish("will/marker", "marker")
            #expect(try await watcher.expectPublish().topic == "will/marker")
        }
    }
    /// 5.0 MQTT-3.1.2-8 and §3.1.3.2.2: a will with a Will Delay Interval goes out when the interval has passed, or
    /// when the session ends if that is sooner. The times are the intervals themselves: there is no event to await.
    @Test(arguments: [(willDelay: UInt32(1), sessionExpiry: UInt32(60)), (willDelay: 60, sessionExpiry: 1)])
    func v5DelayedWillIsPublishedAfterTheDelayOrAtSessionEnd(willDelay: UInt32, sessionExpiry: UInt32) async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.subscribe("will/delayed")
            let will = Self.will("will/delayed", properties: [.willDelayInterval(willDelay)])
            let client = try await broker.client("delayed", version: .v5, will: will, properties: [.sessionExpiryInterval(sessionExpiry)])
            // Before the drop: the broker may see the connection lost, and start the interval, before `drop`
            // returns to a test on a busy machine.
            let start = ContinuousClock.now
            await client.drop()
            let published = try await watcher.expectPublish()
            let elapsed = start.duration(to: .now)
            #expect(published.topic == "will/delayed")
            #expect(published.properties.willDelayInterval == nil)
            #expect(elapsed >= .milliseconds(900), "published after \(elapsed)")
            // Far below the other interval (60 s), which is what tells the two apart; a tighter bound only measures
            // how busy the machine is (2.6 s was seen in CI).
            #expect(elapsed < .seconds(30), "published after \(elapsed)")
        }
    }

    /// 5.0 MQTT-3.1.2-8 and MQTT-3.1.2-4: a new connection with Clean Start 1 ends the old session, so the old
    /// session's delayed will goes out at once.
    @Test func v5CleanStartPublishesThePendingWillOfTheOldSession() async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.subscribe("will/replaced")
            let will = Self.will("will/replaced", properties: [.willDelayInterval(60)])
            let old = try await broker.client("replaced", version: .v5, will: will, properties: [.sessionExpiryInterval(60)])
            await old.drop()
            let (_, connAck) = try await broker.connect("replaced", version: .v5, cleanStart: true)
            #expect(connAck.sessionPresent == false)
            #expect(try await watcher.expectPublish().topic == "will/replaced")
        }
    }
}
