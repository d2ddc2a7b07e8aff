/// Where a broker keeps what must outlive its process: persistent sessions with their subscriptions and pending
/// wills, the QoS 1 and 2 messages queued for them or in flight in either direction, and the retained messages.
///
/// The broker never waits for a store on the publish path. Its event loops record changes in memory and a single
/// writer hands them to `commit` in batches, one at a time and in order; with `Durability.everyAck` a PUBACK or
/// PUBREC goes out only once the batch holding the publish's changes is committed. An implementation applies a
/// batch atomically, in order, and is durable when `commit` returns.
public protocol BrokerStore: Sendable {
    /// Everything stored, read once when the broker starts, before any listener is bound; an error it throws
    /// makes `MQTTBroker.run()` throw.
    func load() async throws -> StoredState
    /// Applies `changes`, in order, as one atomic and durable step. A batch that throws is not offered again: the
    /// broker logs the error, refuses the publishes waiting for it (with `Durability.everyAck`), and goes on with
    /// the next batch.
    func commit(_ changes: [StoreChange]) async throws
    /// Releases the store once the last batch is committed, when the broker stops; an error is only logged.
    func close() async throws
}

/// One change to a broker's stored state.
public enum StoreChange: Sendable, Hashable {
    /// Creates or updates a session. `expiresAt` is nil while the client is connected and when it never expires.
    case sessionSaved(clientIdentifier: String, expiryInterval: UInt32, expiresAt: WallClockTime?)
    /// Removes a session with everything stored for it.
    case sessionDeleted(clientIdentifier: String)
    /// Adds a subscription to the session, or replaces the one with the same topic filter (MQTT-3.8.4-3).
    case subscriptionSaved(clientIdentifier: String, StoredSubscription)
    /// Removes the session's subscription to `topicFilter`, spelt as the client sent it (`$share/` prefix included).
    case subscriptionDeleted(clientIdentifier: String, topicFilter: String)
    /// A QoS 1 or 2 message routed to the session, queued or in flight.
    case deliveryAdded(clientIdentifier: String, StoredDelivery)
    /// The subscriber sent PUBREC for a QoS 2 delivery and the broker answers PUBREL.
    case deliveryReleased(clientIdentifier: String, sequence: UInt64)
    /// The delivery is done (acknowledged, expired or dropped), or was handed to another member of its shared
    /// subscription's group.
    case deliveryRemoved(clientIdentifier: String, sequence: UInt64)
    /// A QoS 2 PUBLISH the client sent was answered with PUBREC: a resent one must not be routed again.
    case qos2Received(clientIdentifier: String, packetIdentifier: UInt16)
    /// The client sent PUBREL for it.
    case qos2Released(clientIdentifier: String, packetIdentifier: UInt16)
    /// The session's will, set at connect or given its due time when the connection is lost; replaces any other.
    case willSaved(clientIdentifier: String, StoredWill)
    /// The will was published or discarded.
    case willDeleted(clientIdentifier: String)
    /// Stores the retained message of its topic, replacing any earlier one (3.3.1.3).
    case retainedSaved(StoredMessage)
    /// Removes the retained message of `topic`: a retained PUBLISH with an empty payload cleared it
    /// (MQTT-3.3.1-6), or it expired.
    case retainedDeleted(topic: String)
    /// A QoS 1 or 2 message the cluster node `node` sent over its link to this node (the delivery `sequence` of
    /// that link's session there) was published here, in the same commit: a store the nodes share keeps the
    /// record, so that neither node sends the message again when the other dies. Other stores ignore it.
    case clusterDeliveryTaken(node: String, sequence: UInt64)
}

extension StoreChange {
    /// The client whose stored session the change is to; nil for retained messages and cluster records.
    var clientIdentifier: String? {
        switch self {
        case .sessionSaved(let client, _, _), .sessionDeleted(let client), .subscriptionSaved(let client, _),
            .subscriptionDeleted(let client, _), .deliveryAdded(let client, _), .deliveryReleased(let client, _),
            .deliveryRemoved(let client, _), .qos2Received(let client, _), .qos2Released(let client, _),
            .willSaved(let client, _), .willDeleted(let client):
            client
        case .retainedSaved, .retainedDeleted, .clusterDeliveryTaken:
            nil
        }
    }
}

/// What a store holds, as read at start.
public struct StoredState: Sendable, Hashable {
    /// The persistent sessions, each with its subscriptions, deliveries and will.
    public var sessions: [StoredSession]
    /// The retained messages, one per topic.
    public var retained: [StoredMessage]

    /// A state holding `sessions` and `retained`; empty by default, as for a store never written to.
    public init(sessions: [StoredSession] = [], retained: [StoredMessage] = []) {
        self.sessions = sessions
        self.retained = retained
    }
}
