import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Persistent sessions, in-flight state and retained messages kept by a `BrokerStore` across a restart of the
/// broker: each test runs a first broker, then a second one on the same store.
@Suite struct PersistenceTests {
    static let sessionExpiry: Properties = [.sessionExpiryInterval(3_600)]

    /// The queued messages of an offline persistent session come back with it after a restart, in the order they
    /// were published (MQTT-4.6.0-5), and its subscription still routes new messages.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func queuedMessagesSurviveRestart(version: ProtocolVersion) async throws {
        let store = InMemoryBrokerStore()
        let properties = version == .v5 ? Self.sessionExpiry : []
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("keeper", version: version, cleanStart: false, properties: properties)
            try await subscriber.subscribe("kept/#", qos: .atLeastOnce)
            try await subscriber.disconnect()
            let publisher = try await broker.client("publisher", version: version)
            for index in 1...3 {
                try await publisher.publishQoS1("kept/\(index)", "message \(index)", packetIdentifier: UInt16(index))
            }
        }
        try await TestBroker.with(store: store) { broker in
            let (subscriber, connAck) = try await broker.connect("keeper", version: version, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent)
            for index in 1...3 {
                let delivered = try await subscriber.expectPublish()
                #expect(delivered.payloadString == "message \(index)")
                #expect(delivered.qos == .atLeastOnce)
                try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: delivered.packetIdentifier!)))
            }
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("kept/new", "after restart")
            #expect(try await subscriber.expectPublish().payloadString == "after restart")
        }
    }

    /// The guarantee: the PUBACK of a message routed to a persistent session waits for the store's commit.
    @Test func pubAckWaitsForTheCommit() async throws {
        let store = GatedStore()
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("keeper", cleanStart: false, properties: Self.sessionExpiry)
            store.hold()
            try await subscriber.send(.subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [.init(topicFilter: "gated", options: SubscriptionOptions(qos: .atLeastOnce))])))
            // SUBACK waits for the subscription to be stored.
            await #expect(throws: (any Error).self) { try await subscriber.nextPacket(timeout: .milliseconds(300)) }
            store.release()
            _ = try await subscriber.expectSubAck()

            store.hold()
            let publisher = try await broker.client("publisher")
            try await publisher.send(.publish(PublishPacket(
                topic: "gated", payload: ByteBuffer(string: "durable"), qos: .atLeastOnce, packetIdentifier: 7)))
            // Delivered at once, but not acknowledged to its publisher before it is stored.
            #expect(try await subscriber.expectPublish().payloadString == "durable")
            await #expect(throws: (any Error).self) { try await publisher.nextPacket(timeout: .milliseconds(300)) }
            store.release()
            let ack = try await publisher.expectPubAck()
            #expect(ack.packetIdentifier == 7)
            let stored = try await store.inner.load()
            #expect(stored.sessions.first { $0.clientIdentifier == "keeper" }?.deliveries.map(\.message.topic) == ["gated"])
        }
    }

    /// A cluster hand-over commits what was recorded for the session it hands over, and waits for no other
    /// session's changes: a commit held back for another session's message does not hold it up.
    @Test func aHandOverWaitsOnlyForTheChangesOfItsOwnSession() async throws {
        let store = GatedStore()
        try await TestBroker.with(store: store) { broker in
            let idle = try await broker.client("idle", cleanStart: false, properties: Self.sessionExpiry)
            _ = try await idle.subscribe("idle/#", qos: .atLeastOnce)
            let busy = try await broker.client("busy", cleanStart: false, properties: Self.sessionExpiry)
            _ = try await busy.subscribe("busy", qos: .atLeastOnce)
            store.hold()
            let publisher = try await broker.client("publisher")
            try await publisher.send(.publish(PublishPacket(
                topic: "busy", payload: ByteBuffer(string: "held"), qos: .atLeastOnce, packetIdentifier: 1)))
            #expect(try await busy.expectPublish().payloadString == "held")
            // The message's commit is held; the idle session has nothing in it.
            let idleHandedOver = await Self.within(.seconds(20)) { await broker.broker.handOver(clientIdentifier: "idle", resume: true) }
            #expect(idleHandedOver == true)
            // The busy session's delivery is in the held commit: its hand-over waits for it.
            let busyHandOver = Task { await broker.broker.handOver(clientIdentifier: "busy", resume: true) }
            #expect(await Self.within(.milliseconds(300)) { await busyHandOver.value } == nil)
            store.release()
            #expect(await busyHandOver.value == true)
            let stored = try await store.inner.load()
            #expect(stored.sessions.first { $0.clientIdentifier == "busy" }?.deliveries.map(\.message.topic) == ["busy"])
        }
    }

    /// What `body` returns, or nil when it has not returned within `limit`; `body` may go on running after.
    private static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
        let waiter = NIOLockedValueBox<CheckedContinuation<T?, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            waiter.withLockedValue { $0 = continuation }
            Task {
                let value = await body()
                waiter.withLockedValue { $0.take() }?.resume(returning: value)
            }
            Task {
                try? await Task.sleep(for: limit)
                waiter.withLockedValue { $0.take() }?.resume(returning: nil)
            }
        }
    }

    /// Without a persistent session to route to, nothing is stored and nothing waits.
    @Test func cleanSessionsAreNotStored() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("passing")
            try await subscriber.subscribe("passing", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("passing", "not kept")
            _ = try await subscriber.expectPublish()
        }
        #expect(try await store.load() == StoredState())
    }

    /// Retained messages are restored, and an empty retained message deletes the stored one (MQTT-3.3.1-6, -7).
    @Test func retainedMessagesSurviveRestart() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("retained/a", "kept", packetIdentifier: 1, retain: true)
            try await publisher.publishQoS1("retained/b", "gone", packetIdentifier: 2, retain: true)
            try await publisher.publishQoS1("retained/b", "", packetIdentifier: 3, retain: true)
        }
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("subscriber")
            try await subscriber.subscribe("retained/#", qos: .atLeastOnce)
            let delivered = try await subscriber.expectPublish()
            #expect(delivered.topic == "retained/a")
            #expect(delivered.payloadString == "kept")
            #expect(delivered.retain)
            try await subscriber.send(.pingReq)
            #expect(try await subscriber.nextPacket() == .pingResp)
        }
    }

    /// Session expiry counts in wall-clock time across the downtime: a session whose end passed while the broker
    /// was down is gone (MQTT-3.1.2-23), one whose end is still ahead is resumed.
    @Test func sessionExpiryCountsAcrossDowntime() async throws {
        let store = InMemoryBrokerStore()
        let now = WallClockTime.now()
        try await store.commit([
            .sessionSaved(clientIdentifier: "expired", expiryInterval: 10, expiresAt: now.adding(milliseconds: -1_000)),
            // An hour ahead: starting a broker on a loaded machine must not be what ends it.
            .sessionSaved(clientIdentifier: "alive", expiryInterval: 3_600, expiresAt: now.adding(milliseconds: 3_600_000)),
        ])
        try await TestBroker.with(store: store) { broker in
            let expired = try await broker.connect("expired", cleanStart: false, properties: [.sessionExpiryInterval(10)])
            #expect(!expired.connAck.sessionPresent)
            let alive = try await broker.connect("alive", cleanStart: false, properties: [.sessionExpiryInterval(3_600)])
            #expect(alive.connAck.sessionPresent)
        }
    }

    /// QoS 2 exactly once across a restart, inbound: a PUBLISH the broker answered with PUBREC and that the client
    /// sends again (DUP) after the restart is acknowledged but not routed again (4.3.3, MQTT-4.3.3-10 5.0 / -2 3.1.1).
    @Test func resentQoS2PublishIsNotRoutedTwiceAfterRestart() async throws {
        let store = InMemoryBrokerStore()
        let publish = PublishPacket(topic: "twice", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, packetIdentifier: 9)
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("keeper", cleanStart: false, properties: Self.sessionExpiry)
            try await subscriber.subscribe("twice", qos: .exactlyOnce)
            try await subscriber.disconnect()
            let publisher = try await broker.client("publisher", cleanStart: false, properties: Self.sessionExpiry)
            try await publisher.send(.publish(publish))
            #expect(try await publisher.expectPubRec().packetIdentifier == 9)
        }
        try await TestBroker.with(store: store) { broker in
            let publisher = try await broker.client("publisher", cleanStart: false, properties: Self.sessionExpiry)
            var again = publish
            again.duplicate = true
            try await publisher.send(.publish(again))
            #expect(try await publisher.expectPubRec().packetIdentifier == 9)
            try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: 9)))
            #expect(try await publisher.expectPubComp().reasonCode == .success)

            let subscriber = try await broker.client("keeper", cleanStart: false, properties: Self.sessionExpiry)
            let delivered = try await subscriber.expectPublish()
            #expect(delivered.payloadString == "once")
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: delivered.packetIdentifier!)))
            _ = try await subscriber.expectPubRel()
            try await subscriber.send(.pubComp(AcknowledgementPacket(packetIdentifier: delivered.packetIdentifier!)))
            try await subscriber.send(.pingReq)
            #expect(try await subscriber.nextPacket() == .pingResp)
        }
    }

    /// QoS 2 exactly once across a restart, outbound: once the subscriber has PUBREL, the broker sends it PUBREL
    /// again after a restart, never the PUBLISH (MQTT-4.4.0-1); a message not yet acknowledged is sent again with
    /// the same Packet Identifier, which the client may hold.
    @Test func releasedQoS2DeliveryResumesWithPubRel() async throws {
        let store = InMemoryBrokerStore()
        let (released, pending) = try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("keeper", cleanStart: false, properties: Self.sessionExpiry)
            try await subscriber.subscribe("q2", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher")
            for (index, payload) in ["first", "second"].enumerated() {
                try await publisher.send(.publish(PublishPacket(
                    topic: "q2", payload: ByteBuffer(string: payload), qos: .exactlyOnce, packetIdentifier: UInt16(index + 1))))
                _ = try await publisher.expectPubRec()
            }
            let first = try await subscriber.expectPublish()
            let second = try await subscriber.expectPublish()
            let released = try #require(first.packetIdentifier)
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: released)))
            #expect(try await subscriber.expectPubRel().packetIdentifier == released)
            return (released, try #require(second.packetIdentifier))
        }
        try await TestBroker.with(store: store) { broker in
            let (subscriber, connAck) = try await broker.connect("keeper", cleanStart: false, properties: Self.sessionExpiry)
            #expect(connAck.sessionPresent)
            #expect(try await subscriber.expectPubRel().packetIdentifier == released)
            let again = try await subscriber.expectPublish()
            #expect(again.payloadString == "second")
            #expect(again.packetIdentifier == pending)
        }
    }

    /// A store that cannot commit: the publish is refused with 0x97 rather than acknowledged.
    @Test func failedCommitRefusesThePublish() async throws {
        let store = GatedStore()
        try await TestBroker.with(store: store) { broker in
            let subscriber = try await broker.client("keeper", cleanStart: false, properties: Self.sessionExpiry)
            try await subscriber.subscribe("full", qos: .atLeastOnce)
            store.fail(true)
            let publisher = try await broker.client("publisher")
            try await publisher.send(.publish(PublishPacket(
                topic: "full", payload: ByteBuffer(string: "no room"), qos: .atLeastOnce, packetIdentifier: 3)))
            let ack = try await publisher.expectPubAck()
            #expect(ack.reasonCode == .quotaExceeded)
            store.fail(false)
            #expect(try await publisher.publishQoS1("full", "room again", packetIdentifier: 4).reasonCode == .success)
        }
    }

    /// 4.8.2: the messages a shared subscription's member leaves when its connection is lost go to a connected
    /// member, and leave the first member's stored session too: after a restart it does not get them again.
    @Test func messagesHandedToAnotherMemberLeaveTheStoredSession() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            let first = try await broker.client("member-a", cleanStart: false, properties: [.sessionExpiryInterval(3_600), .receiveMaximum(1)])
            try await first.subscribe("$share/g/work/+", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("work/1", "1", packetIdentifier: 1)
            try await publisher.publishQoS1("work/2", "2", packetIdentifier: 2)
            #expect(try await first.expectPublish().payloadString == "1")
            let second = try await broker.client("member-b")
            try await second.subscribe("$share/g/work/+", qos: .atLeastOnce)
            await first.drop()
            for expected in ["1", "2"] {
                let publish = try await second.expectPublish()
                #expect(publish.payloadString == expected)
                try await second.send(.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
            }
            // The acknowledgements are handled before the broker stops: a message member-b had not acknowledged
            // would rightly go back to member-a's stored session when member-b's session ends.
            try await second.send(.pingReq)
            #expect(try await second.nextPacket() == .pingResp)
        }
        try await TestBroker.with(store: store) { broker in
            let (back, connAck) = try await broker.connect("member-a", cleanStart: false, properties: [.sessionExpiryInterval(3_600)])
            #expect(connAck.sessionPresent)
            try await back.subscribe("marker", packetIdentifier: 9)
            let publisher = try await broker.client("publisher")
            try await publisher.publish("marker", "marker")
            #expect(try await back.expectPublish().topic == "marker")
        }
    }

    // MARK: Pending wills

    static func will(_ topic: String, delay: UInt32? = nil) -> ConnectPacket.Will {
        ConnectPacket.Will(
            topic: topic, payload: ByteBuffer(string: "gone"), qos: .atLeastOnce,
            properties: delay.map { [.willDelayInterval($0)] } ?? [])
    }

    static func storedWill(of clientIdentifier: String, in store: any BrokerStore) async throws -> StoredWill? {
        try await store.load().sessions.first { $0.clientIdentifier == clientIdentifier }?.will
    }

    /// Connects a persistent session subscribed to `wills/#` at QoS 1 and disconnects it: a will published while it
    /// is away, even during a restart, is queued for it.
    static func leaveWatcher(on broker: TestBroker) async throws {
        let watcher = try await broker.client("watcher", cleanStart: false, properties: sessionExpiry)
        try await watcher.subscribe("wills/#", qos: .atLeastOnce)
        try await watcher.disconnect()
    }

    /// The watcher is back: returns the first message it gets, after checking the session was kept.
    static func firstMessageOfWatcher(on broker: TestBroker, timeout: TimeAmount = .seconds(5)) async throws -> PublishPacket {
        let (watcher, connAck) = try await broker.connect("watcher", cleanStart: false, properties: sessionExpiry)
        #expect(connAck.sessionPresent)
        return try await watcher.expectPublish(timeout: timeout)
    }

    /// A delayed will (3.1.3.2.2) of a client whose connection was lost waits across a restart, counting in
    /// wall-clock time, and is published when due; then it is no longer stored.
    @Test func delayedWillIsPublishedAfterRestart() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            // A stored watcher gets the will even if it comes due before the watcher is back.
            try await Self.leaveWatcher(on: broker)
            let events = broker.broker.events()
            let dropper = try await broker.client("dropper", cleanStart: false, will: Self.will("wills/dropper", delay: 2), properties: Self.sessionExpiry)
            await dropper.drop()
            for await event in events {
                if case .clientDisconnected("dropper") = event { break }
            }
        }
        let stored = try #require(try await Self.storedWill(of: "dropper", in: store))
        let publishAt = try #require(stored.publishAt)
        #expect(stored.topic == "wills/dropper")
        #expect(stored.properties.willDelayInterval == 2)
        try await TestBroker.with(store: store) { broker in
            let will = try await Self.firstMessageOfWatcher(on: broker)
            // Not before it was due (the event loops' clock and the wall clock may differ by a little).
            #expect(WallClockTime.now() >= publishAt.adding(milliseconds: -100))
            #expect(will.topic == "wills/dropper")
            #expect(will.payloadString == "gone")
            // The Will Delay Interval belongs to CONNECT, not to the PUBLISH of the will.
            #expect(will.properties.willDelayInterval == nil)
        }
        #expect(try await Self.storedWill(of: "dropper", in: store) == nil)
    }

    /// MQTT-3.1.2-10: a normal DISCONNECT deletes the will; the restart does not bring it back.
    @Test func willClearedByDisconnectIsNotPublishedAfterRestart() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            try await Self.leaveWatcher(on: broker)
            let leaver = try await broker.client("leaver", cleanStart: false, will: Self.will("wills/leaver"), properties: Self.sessionExpiry)
            try await leaver.disconnect()
        }
        #expect(try await Self.storedWill(of: "leaver", in: store) == nil)
        try await TestBroker.with(store: store) { broker in
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("wills/marker", "marker")
            #expect(try await Self.firstMessageOfWatcher(on: broker).topic == "wills/marker")
        }
    }

    /// MQTT-3.1.3-9: a client that reconnects within the Will Delay Interval cancels its will, also when the
    /// broker restarted in between.
    @Test func reconnectWithinTheDelayCancelsTheStoredWill() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            let events = broker.broker.events()
            let dropper = try await broker.client("dropper", cleanStart: false, will: Self.will("wills/dropper", delay: 60), properties: Self.sessionExpiry)
            await dropper.drop()
            for await event in events {
                if case .clientDisconnected("dropper") = event { break }
            }
        }
        #expect(try await Self.storedWill(of: "dropper", in: store)?.publishAt != nil)
        try await TestBroker.with(store: store) { broker in
            let (back, connAck) = try await broker.connect("dropper", cleanStart: false, properties: Self.sessionExpiry)
            #expect(connAck.sessionPresent)
            try await back.disconnect()
        }
        #expect(try await Self.storedWill(of: "dropper", in: store) == nil)
    }

    /// A broker that goes down without closing its connections (simulated by a store that stops committing, so
    /// that what the shutdown does is lost): the connected client's connection was closed without DISCONNECT, so
    /// its will is published after the restart (3.1.2.5), at once or after its Will Delay Interval counted from
    /// the restart.
    @Test(arguments: [UInt32(0), 1])
    func willOfClientConnectedAtCrashIsPublishedAfterRestart(delay: UInt32) async throws {
        let store = FreezingStore()
        try await TestBroker.with(store: store) { broker in
            try await Self.leaveWatcher(on: broker)
            let crasher = try await broker.client(
                "crasher", cleanStart: false, will: Self.will("wills/crasher", delay: delay == 0 ? nil : delay), properties: Self.sessionExpiry)
            // SUBACK waits for the commit that also holds the session and its will.
            try await crasher.subscribe("anything", qos: .atLeastOnce)
            store.freeze()
        }
        let stored = try #require(try await Self.storedWill(of: "crasher", in: store.inner))
        #expect(stored.publishAt == nil)
        let restart = WallClockTime.now()
        try await TestBroker.with(store: store.inner) { broker in
            let will = try await Self.firstMessageOfWatcher(on: broker)
            #expect(will.topic == "wills/crasher")
            #expect(will.payloadString == "gone")
            if delay > 0 {
                #expect(WallClockTime.now() >= restart.adding(milliseconds: Int64(delay) * 1_000 - 100))
            }
        }
        #expect(try await Self.storedWill(of: "crasher", in: store.inner) == nil)
    }

    /// A session that ended while the broker was down had its will due by then (3.1.3.2.2): it goes out at restart.
    @Test func willOfSessionThatEndedDuringDowntimeIsPublished() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { broker in
            try await Self.leaveWatcher(on: broker)
        }
        let ended = WallClockTime.now().adding(milliseconds: -1_000)
        try await store.commit([
            .sessionSaved(clientIdentifier: "ended", expiryInterval: 10, expiresAt: ended),
            .willSaved(
                clientIdentifier: "ended",
                StoredWill(topic: "wills/ended", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, properties: [.willDelayInterval(30)], publishAt: ended)),
        ])
        try await TestBroker.with(store: store) { broker in
            let will = try await Self.firstMessageOfWatcher(on: broker)
            #expect(will.topic == "wills/ended")
        }
    }
}

/// An in-memory store that stops committing once frozen, as a process that went down would: what the broker does
/// afterwards never reaches `inner`.
final class FreezingStore: BrokerStore {
    let inner = InMemoryBrokerStore()
    private let frozen = NIOLockedValueBox(false)

    func freeze() {
        frozen.withLockedValue { $0 = true }
    }

    func load() async throws -> StoredState { try await inner.load() }

    func commit(_ changes: [StoreChange]) async throws {
        guard !frozen.withLockedValue({ $0 }) else { return }
        try await inner.commit(changes)
    }

    func close() async throws {}
}

/// An in-memory store whose commits can be held back or made to fail.
final class GatedStore: BrokerStore {
    struct DiskFull: Error {}

    private struct State {
        var isOpen = true
        var failing = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    let inner = InMemoryBrokerStore()
    private let state = NIOLockedValueBox(State())

    func hold() {
        state.withLockedValue { $0.isOpen = false }
    }

    func release() {
        let waiting = state.withLockedValue { state in
            state.isOpen = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func fail(_ failing: Bool) {
        state.withLockedValue { $0.failing = failing }
    }

    func load() async throws -> StoredState { try await inner.load() }

    func commit(_ changes: [StoreChange]) async throws {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLockedValue { state in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
        if state.withLockedValue({ $0.failing }) { throw DiskFull() }
        try await inner.commit(changes)
    }

    func close() async throws {
        release()
    }
}
