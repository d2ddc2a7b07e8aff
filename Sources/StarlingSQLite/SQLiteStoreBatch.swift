import OrderedCollections
import StarlingBroker

/// The net effect of a batch of changes, so that a batch becomes a few multi-row statements: a delivery added and
/// acknowledged within one batch never reaches the database, and a deleted session takes the changes recorded
/// for it before its deletion along.
struct SQLiteStoreBatch {
    struct SubscriptionKey: Hashable {
        var client: String
        var filter: String
    }

    struct DeliveryKey: Hashable {
        var client: String
        var sequence: UInt64
    }

    struct PacketKey: Hashable {
        var client: String
        var packetIdentifier: UInt16
    }

    enum DeliveryChange {
        case added(StoredDelivery)
        case released
        case removed
    }

    /// Deleted before anything else is written.
    var deletedSessions: OrderedSet<String> = []
    var sessions: OrderedDictionary<String, (expiryInterval: UInt32, expiresAt: WallClockTime?)> = [:]
    /// nil: deleted.
    var subscriptions: OrderedDictionary<SubscriptionKey, StoredSubscription?> = [:]
    var deliveries: OrderedDictionary<DeliveryKey, DeliveryChange> = [:]
    /// true: received; false: released.
    var receivedQoS2: OrderedDictionary<PacketKey, Bool> = [:]
    /// nil: deleted.
    var wills: OrderedDictionary<String, StoredWill?> = [:]
    /// nil: deleted.
    var retained: OrderedDictionary<String, StoredMessage?> = [:]

    var isEmpty: Bool {
        deletedSessions.isEmpty && sessions.isEmpty && subscriptions.isEmpty && deliveries.isEmpty && receivedQoS2.isEmpty
            && wills.isEmpty && retained.isEmpty
    }

    mutating func apply(_ change: StoreChange) {
        switch change {
        case .sessionSaved(let client, let expiryInterval, let expiresAt):
            sessions[client] = (expiryInterval, expiresAt)
        case .sessionDeleted(let client):
            deletedSessions.append(client)
            sessions.removeValue(forKey: client)
            subscriptions.removeAll { $0.key.client == client }
            deliveries.removeAll { $0.key.client == client }
            receivedQoS2.removeAll { $0.key.client == client }
            wills.removeValue(forKey: client)
        case .subscriptionSaved(let client, let subscription):
            subscriptions[SubscriptionKey(client: client, filter: subscription.topicFilter)] = .some(subscription)
        case .subscriptionDeleted(let client, let filter):
            subscriptions[SubscriptionKey(client: client, filter: filter)] = .some(nil)
        case .deliveryAdded(let client, let delivery):
            deliveries[DeliveryKey(client: client, sequence: delivery.sequence)] = .added(delivery)
        case .deliveryReleased(let client, let sequence):
            let key = DeliveryKey(client: client, sequence: sequence)
            if case .added(var delivery) = deliveries[key] {
                delivery.released = true
                deliveries[key] = .added(delivery)
            } else {
                deliveries[key] = .released
            }
        case .deliveryRemoved(let client, let sequence):
            let key = DeliveryKey(client: client, sequence: sequence)
            if case .added = deliveries[key] {
                // Sequence numbers are not reused while a row has them, so there is no row to delete.
                deliveries.removeValue(forKey: key)
            } else {
                deliveries[key] = .removed
            }
        case .qos2Received(let client, let packetIdentifier):
            receivedQoS2[PacketKey(client: client, packetIdentifier: packetIdentifier)] = true
        case .qos2Released(let client, let packetIdentifier):
            let key = PacketKey(client: client, packetIdentifier: packetIdentifier)
            if receivedQoS2[key] == true {
                receivedQoS2.removeValue(forKey: key)
            } else {
                receivedQoS2[key] = false
            }
        case .willSaved(let client, let will):
            wills[client] = .some(will)
        case .willDeleted(let client):
            wills[client] = .some(nil)
        case .retainedSaved(let message):
            retained[message.topic] = .some(message)
        case .retainedDeleted(let topic):
            retained[topic] = .some(nil)
        }
    }
}
