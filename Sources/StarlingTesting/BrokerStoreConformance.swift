import MQTT
import NIOCore
import StarlingBroker

/// Checks that a `BrokerStore` keeps what the broker commits as the broker expects: everything committed comes back
/// from `load()` after the store is closed and opened again, a batch's changes apply in order, keys compare by
/// their bytes, and wills keep their delay and due time. Each check opens the store through `open` (the same
/// database each time) as many times as it needs, closes it, and throws a `Failure` saying what differs.
///
/// ```swift
/// @Test func keepsWhatItCommits() async throws {
///     try await BrokerStoreConformance.everythingCommittedIsLoaded { try await MyStore.open(at: path) }
/// }
/// ```
public enum BrokerStoreConformance {
    /// What a store did not keep as expected.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Every check, one after the other, each on a store that `fresh` opens on new, empty storage and gives back
    /// with a way to open the same storage again.
    public static func all(fresh: () async throws -> @Sendable () async throws -> any BrokerStore) async throws {
        try await everythingCommittedIsLoaded(open: try await fresh())
        try await aBatchIsAppliedInOrder(open: try await fresh())
        try await equivalentSpellingsAreDifferentKeys(open: try await fresh())
        try await willsRoundTrip(open: try await fresh())
    }

    private static func check(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: what()) }
    }

    static func message(_ topic: String, _ payload: String, qos: QoS = .atLeastOnce, expiresAt: WallClockTime? = nil) -> StoredMessage {
        StoredMessage(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: false,
            properties: [.userProperty("k", "v"), .contentType("text/plain"), .messageExpiryInterval(60)],
            publisher: "publisher", expiresAt: expiresAt)
    }

    static func delivery(_ sequence: UInt64, _ payload: String) -> StoredDelivery {
        StoredDelivery(
            sequence: sequence, message: message("t/\(sequence)", payload), qos: .exactlyOnce, retain: true,
            subscriptionIdentifiers: [3, 7], share: "$share/g/t/#")
    }

    /// Sessions, subscriptions (options and identifier), deliveries (released or not), received QoS 2 identifiers and
    /// retained messages come back as committed.
    public static func everythingCommittedIsLoaded(open: () async throws -> any BrokerStore) async throws {
        let expiresAt = WallClockTime.now().adding(milliseconds: 60_000)
        let subscription = StoredSubscription(
            topicFilter: "t/#", options: SubscriptionOptions(qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend),
            identifier: 3)
        let retained = StoredMessage(topic: "r", payload: ByteBuffer(string: "kept"), qos: .atMostOnce, retain: true, expiresAt: expiresAt)
        let store = try await open()
        try await store.commit([
            .sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: expiresAt),
            .subscriptionSaved(clientIdentifier: "a", subscription),
            .deliveryAdded(clientIdentifier: "a", delivery(1, "one")),
            .deliveryAdded(clientIdentifier: "a", delivery(2, "two")),
            .qos2Received(clientIdentifier: "a", packetIdentifier: 12),
            .retainedSaved(retained),
        ])
        try await store.commit([.deliveryReleased(clientIdentifier: "a", sequence: 2)])
        try await store.close()

        let reopened = try await open()
        let state = try await reopened.load()
        try await reopened.close()
        var released = delivery(2, "two")
        released.released = true
        let expected = StoredState(
            sessions: [StoredSession(
                clientIdentifier: "a", expiryInterval: 60, expiresAt: expiresAt, subscriptions: [subscription],
                deliveries: [delivery(1, "one"), released], receivedQoS2: [12])],
            retained: [retained])
        try check(state == expected, "loaded \(state), committed \(expected)")
    }

    /// A batch is applied in order: what is added and removed within it, or recorded for a session deleted later in
    /// it, leaves nothing; what follows a deletion stays.
    public static func aBatchIsAppliedInOrder(open: () async throws -> any BrokerStore) async throws {
        let store = try await open()
        try await store.commit([
            .sessionSaved(clientIdentifier: "gone", expiryInterval: 60, expiresAt: nil),
            .deliveryAdded(clientIdentifier: "gone", delivery(1, "one")),
            .sessionSaved(clientIdentifier: "kept", expiryInterval: 60, expiresAt: nil),
            .deliveryAdded(clientIdentifier: "kept", delivery(1, "one")),
            .deliveryAdded(clientIdentifier: "kept", delivery(2, "two")),
            .qos2Received(clientIdentifier: "kept", packetIdentifier: 5),
        ])
        try await store.commit([
            .deliveryAdded(clientIdentifier: "kept", delivery(3, "three")),
            .deliveryRemoved(clientIdentifier: "kept", sequence: 3),
            .deliveryRemoved(clientIdentifier: "kept", sequence: 1),
            .qos2Released(clientIdentifier: "kept", packetIdentifier: 5),
            .sessionDeleted(clientIdentifier: "gone"),
            .sessionSaved(clientIdentifier: "gone", expiryInterval: 30, expiresAt: nil),
            .subscriptionSaved(clientIdentifier: "gone", StoredSubscription(topicFilter: "x", options: SubscriptionOptions(qos: .atLeastOnce))),
        ])
        let state = try await store.load()
        try await store.close()
        try check(state.sessions.map(\.clientIdentifier) == ["gone", "kept"], "sessions \(state.sessions.map(\.clientIdentifier))")
        try check(state.sessions[0].expiryInterval == 30, "the expiry interval saved after the deletion was not kept")
        try check(state.sessions[0].deliveries.isEmpty, "a deleted session's delivery came back")
        try check(state.sessions[0].subscriptions.map(\.topicFilter) == ["x"], "subscriptions \(state.sessions[0].subscriptions)")
        try check(state.sessions[1].deliveries.map(\.sequence) == [2], "deliveries \(state.sessions[1].deliveries.map(\.sequence)), not [2]")
        try check(state.sessions[1].receivedQoS2.isEmpty, "a released QoS 2 identifier came back")
    }

    /// Client identifiers, filters and topics are stored by their bytes: canonically equivalent spellings
    /// ("caf\u{e9}", "cafe\u{301}") are two sessions, two subscriptions and two retained messages, and deleting one
    /// within a batch leaves the other.
    public static func equivalentSpellingsAreDifferentKeys(open: () async throws -> any BrokerStore) async throws {
        let precomposed = "caf\u{e9}"
        let decomposed = "cafe\u{301}"
        let store = try await open()
        func subscription(_ filter: String) -> StoredSubscription {
            StoredSubscription(topicFilter: filter, options: SubscriptionOptions(qos: .atLeastOnce))
        }
        try await store.commit([
            .sessionSaved(clientIdentifier: precomposed, expiryInterval: 60, expiresAt: nil),
            .sessionSaved(clientIdentifier: decomposed, expiryInterval: 60, expiresAt: nil),
            .subscriptionSaved(clientIdentifier: precomposed, subscription(precomposed)),
            .subscriptionSaved(clientIdentifier: precomposed, subscription(decomposed)),
            .retainedSaved(StoredMessage(topic: precomposed, payload: ByteBuffer(string: "1"), qos: .atMostOnce, retain: true)),
            .retainedSaved(StoredMessage(topic: decomposed, payload: ByteBuffer(string: "2"), qos: .atMostOnce, retain: true)),
            .sessionDeleted(clientIdentifier: decomposed),
        ])
        let state = try await store.load()
        try await store.close()
        try check(state.sessions.map { Array($0.clientIdentifier.utf8) } == [Array(precomposed.utf8)], "sessions \(state.sessions.map(\.clientIdentifier))")
        try check(
            Set(state.sessions[0].subscriptions.map { ExactString($0.topicFilter) }) == [ExactString(precomposed), ExactString(decomposed)],
            "subscriptions \(state.sessions[0].subscriptions.map(\.topicFilter))")
        try check(
            Set(state.retained.map { ExactString($0.topic) }) == [ExactString(precomposed), ExactString(decomposed)],
            "retained \(state.retained.map(\.topic))")
    }

    /// A will with a user property, a content type and a Message Expiry Interval, and the delay and due time given.
    public static func will(delay: UInt32?, publishAt: WallClockTime?) -> StoredWill {
        var properties: Properties = [.userProperty("k", "v"), .contentType("text/plain"), .messageExpiryInterval(60)]
        if let delay { properties.append(.willDelayInterval(delay)) }
        return StoredWill(
            topic: "wills/a", payload: ByteBuffer(string: "gone"), qos: .exactlyOnce, retain: true, properties: properties,
            publishAt: publishAt)
    }

    /// A pending will comes back as stored, Will Delay Interval and due time included; a deleted one, or one of a
    /// deleted session, does not.
    public static func willsRoundTrip(open: () async throws -> any BrokerStore) async throws {
        let due = WallClockTime.now().adding(milliseconds: 5_000)
        let store = try await open()
        try await store.commit([
            .sessionSaved(clientIdentifier: "connected", expiryInterval: 60, expiresAt: nil),
            .willSaved(clientIdentifier: "connected", will(delay: nil, publishAt: nil)),
            .sessionSaved(clientIdentifier: "dropped", expiryInterval: 60, expiresAt: due),
            .willSaved(clientIdentifier: "dropped", will(delay: nil, publishAt: nil)),
            .sessionSaved(clientIdentifier: "cleared", expiryInterval: 60, expiresAt: nil),
            .willSaved(clientIdentifier: "cleared", will(delay: nil, publishAt: nil)),
            .sessionSaved(clientIdentifier: "ended", expiryInterval: 60, expiresAt: nil),
            .willSaved(clientIdentifier: "ended", will(delay: 5, publishAt: nil)),
        ])
        try await store.commit([
            .willSaved(clientIdentifier: "dropped", will(delay: 5, publishAt: due)),
            .willDeleted(clientIdentifier: "cleared"),
            .sessionDeleted(clientIdentifier: "ended"),
            .sessionSaved(clientIdentifier: "ended", expiryInterval: 60, expiresAt: nil),
        ])
        try await store.close()

        let reopened = try await open()
        let state = try await reopened.load()
        try await reopened.close()
        let wills = Dictionary(uniqueKeysWithValues: state.sessions.map { ($0.clientIdentifier, $0.will) })
        try check(wills.count == 4, "\(wills.count) sessions, not 4")
        try check(wills["connected"] == .some(will(delay: nil, publishAt: nil)), "the connected client's will: \(String(describing: wills["connected"]))")
        try check(wills["dropped"] == .some(will(delay: 5, publishAt: due)), "the due will: \(String(describing: wills["dropped"]))")
        try check(wills["cleared"] == .some(nil), "a deleted will came back")
        try check(wills["ended"] == .some(nil), "the will of a deleted session came back")
    }
}
