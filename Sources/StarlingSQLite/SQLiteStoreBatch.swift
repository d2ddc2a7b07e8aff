import MQTT
import OrderedCollections
import StarlingBroker

/// The net effect of a batch of changes, so that a batch becomes a few multi-row statements: a delivery added and
/// acknowledged within one batch never reaches the database, and a deleted session takes the changes recorded
/// for it before its deletion along. Client identifiers, filters and topics are keyed by their bytes, as the
/// database's BINARY collation compares them: canonically equivalent ones are different rows.
struct SQLiteStoreBatch {
    struct SubscriptionKey: Hashable {
        var client: ExactString
        var filter: ExactString
    }

    struct DeliveryKey: Hashable {
        var client: ExactString
        var sequence: UInt64
    }

    struct PacketKey: Hashable {
        var client: ExactString
        var packetIdentifier: UInt16
    }

    enum DeliveryChange {
        case added(StoredDelivery)
        case released
        case removed
    }

    /// Deleted before anything else is written.
    var deletedSessions: OrderedSet<ExactString> = []
    var sessions: OrderedDictionary<ExactString, (expiryInterval: UInt32, expiresAt: WallClockTime?)> = [:]
    /// nil: deleted.
    var subscriptions: OrderedDictionary<SubscriptionKey, StoredSubscription?> = [:]
    var deliveries: OrderedDictionary<DeliveryKey, DeliveryChange> = [:]
    /// true: received; false: released.
    var receivedQoS2: OrderedDictionary<PacketKey, Bool> = [:]
    /// nil: deleted.
    var wills: OrderedDictionary<ExactString, StoredWill?> = [:]
    /// nil: deleted.
    var retained: OrderedDictionary<ExactString, StoredMessage?> = [:]

    var isEmpty: Bool {
        deletedSessions.isEmpty && sessions.isEmpty && subscriptions.isEmpty && deliveries.isEmpty && receivedQoS2.isEmpty
            && wills.isEmpty && retained.isEmpty
    }

    mutating func apply(_ change: StoreChange) {
        switch change {
        case .sessionSaved(let identifier, let expiryInterval, let expiresAt):
            let client = ExactString(identifier)
            sessions[client] = (expiryInterval, expiresAt)
        case .sessionDeleted(let identifier):
            let client = ExactString(identifier)
            deletedSessions.append(client)
            sessions.removeValue(forKey: client)
            subscriptions.removeAll { $0.key.client == client }
            deliveries.removeAll { $0.key.client == client }
            receivedQoS2.removeAll { $0.key.client == client }
            wills.removeValue(forKey: client)
        case .subscriptionSaved(let identifier, let subscription):
            let client = ExactString(identifier)
            subscriptions[SubscriptionKey(client: client, filter: ExactString(subscription.topicFilter))] = .some(subscription)
        case .subscriptionDeleted(let identifier, let filter):
            let client = ExactString(identifier)
            subscriptions[SubscriptionKey(client: client, filter: ExactString(filter))] = .some(nil)
        case .deliveryAdded(let identifier, let delivery):
            let client = ExactString(identifier)
            deliveries[DeliveryKey(client: client, sequence: delivery.sequence)] = .added(delivery)
        case .deliveryReleased(let identifier, let sequence):
            let client = ExactString(identifier)
            let key = DeliveryKey(client: client, sequence: sequence)
            if case .added(var delivery) = deliveries[key] {
                delivery.released = true
                deliveries[key] = .added(delivery)
            } else {
                deliveries[key] = .released
            }
        case .deliveryRemoved(let identifier, let sequence):
            let client = ExactString(identifier)
            let key = DeliveryKey(client: client, sequence: sequence)
            if case .added = deliveries[key] {
                // Sequence numbers are not reused while a row has them, so there is no row to delete.
                deliveries.removeValue(forKey: key)
            } else {
                deliveries[key] = .removed
            }
        case .qos2Received(let identifier, let packetIdentifier):
            let client = ExactString(identifier)
            receivedQoS2[PacketKey(client: client, packetIdentifier: packetIdentifier)] = true
        case .qos2Released(let identifier, let packetIdentifier):
            let client = ExactString(identifier)
            let key = PacketKey(client: client, packetIdentifier: packetIdentifier)
            if receivedQoS2[key] == true {
                receivedQoS2.removeValue(forKey: key)
            } else {
                receivedQoS2[key] = false
            }
        case .willSaved(let identifier, let will):
            let client = ExactString(identifier)
            wills[client] = .some(will)
        case .willDeleted(let identifier):
            let client = ExactString(identifier)
            wills[client] = .some(nil)
        case .retainedSaved(let message):
            retained[ExactString(message.topic)] = .some(message)
        case .retainedDeleted(let topic):
            retained[ExactString(topic)] = .some(nil)
        }
    }
}
