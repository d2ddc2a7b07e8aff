import MQTT
import OrderedCollections

/// The net effect of a batch of `StoreChange`s, for a database store to write as a few multi-row statements: a
/// delivery added and acknowledged within one batch never reaches the database (but for a cluster link's QoS 2
/// delivery, whose record of being taken goes with it), and a deleted session takes the changes recorded for it
/// before its deletion along. Client identifiers, filters and topics are keyed by their bytes, as a database's
/// binary collation compares them: canonically equivalent ones are different rows.
public struct StoreBatch: Sendable {
    /// A session's subscription, by the filter's bytes.
    public struct SubscriptionKey: Hashable, Sendable {
        public var client: ExactString
        public var filter: ExactString
    }

    /// A session's delivery, by its sequence number.
    public struct DeliveryKey: Hashable, Sendable {
        public var client: ExactString
        public var sequence: UInt64
    }

    /// A QoS 2 message received from a session's client, by its packet identifier.
    public struct PacketKey: Hashable, Sendable {
        public var client: ExactString
        public var packetIdentifier: UInt16
    }

    /// What became of a delivery in the batch.
    public enum DeliveryChange: Sendable {
        case added(StoredDelivery)
        case released
        case removed
    }

    /// An empty batch.
    public init() {}

    /// The net effect of `changes`, applied in order.
    public init(_ changes: [StoreChange]) {
        // The deliveries added and removed within the batch are left out before folding, as `apply` would have
        // them cancel out: taking each out of the ordered dictionary once added costs a shift of all after it.
        let cancelled = Self.cancelledDeliveries(in: changes)
        for (index, change) in changes.enumerated() where cancelled.isEmpty || !cancelled[index] { apply(change) }
    }

    /// Which of `changes` are the addition, releases and removal of one delivery: all true or all false, by
    /// position; empty when none cancels out. A cluster link's QoS 2 delivery never does (its record of being
    /// taken goes with its removal), and neither does a delivery whose session is deleted before its removal.
    private static func cancelledDeliveries(in changes: [StoreChange]) -> [Bool] {
        // Where each delivery still open was added, and released (QoS 2 only, so kept apart).
        var added: [DeliveryKey: Int] = [:]
        var released: [DeliveryKey: [Int]] = [:]
        var cancelled: [Bool] = []
        for (index, change) in changes.enumerated() {
            switch change {
            case .deliveryAdded(let identifier, let delivery):
                guard !(delivery.qos == .exactlyOnce && identifier.isClusterLink) else { continue }
                added[DeliveryKey(client: ExactString(identifier), sequence: delivery.sequence)] = index
            case .deliveryReleased(let identifier, let sequence):
                let key = DeliveryKey(client: ExactString(identifier), sequence: sequence)
                if added[key] != nil { released[key, default: []].append(index) }
            case .deliveryRemoved(let identifier, let sequence):
                let key = DeliveryKey(client: ExactString(identifier), sequence: sequence)
                guard let addition = added.removeValue(forKey: key) else { continue }
                if cancelled.isEmpty { cancelled = Array(repeating: false, count: changes.count) }
                cancelled[addition] = true
                for position in released.removeValue(forKey: key) ?? [] { cancelled[position] = true }
                cancelled[index] = true
            case .sessionDeleted(let identifier):
                // Its session's sequence numbers start again: a later change with the same key is another delivery.
                let client = ExactString(identifier)
                added = added.filter { $0.key.client != client }
                released = released.filter { $0.key.client != client }
            default:
                continue
            }
        }
        return cancelled
    }

    /// Deleted before anything else is written.
    public var deletedSessions: OrderedSet<ExactString> = []
    /// Sessions created or updated.
    public var sessions: OrderedDictionary<ExactString, (expiryInterval: UInt32, expiresAt: WallClockTime?)> = [:]
    /// nil: deleted.
    public var subscriptions: OrderedDictionary<SubscriptionKey, StoredSubscription?> = [:]
    /// Deliveries added, released or removed.
    public var deliveries: OrderedDictionary<DeliveryKey, DeliveryChange> = [:]
    /// true: received; false: released.
    public var receivedQoS2: OrderedDictionary<PacketKey, Bool> = [:]
    /// nil: deleted.
    public var wills: OrderedDictionary<ExactString, StoredWill?> = [:]
    /// nil: deleted.
    public var retained: OrderedDictionary<ExactString, StoredMessage?> = [:]
    /// Messages other cluster nodes sent over their links to this one, taken: the sending node and the sequence
    /// number of the delivery there.
    public var clusterTaken: [(node: String, sequence: UInt64)] = []

    /// Whether the batch changes nothing.
    public var isEmpty: Bool {
        changesOnlyMessages && deliveries.isEmpty && retained.isEmpty && clusterTaken.isEmpty
    }

    /// Whether the batch changes only deliveries, retained messages and cluster records: no session, subscription,
    /// received QoS 2 identifier or will.
    public var changesOnlyMessages: Bool {
        deletedSessions.isEmpty && sessions.isEmpty && subscriptions.isEmpty && receivedQoS2.isEmpty && wills.isEmpty
    }

    /// Folds `change` into the batch.
    public mutating func apply(_ change: StoreChange) {
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
            if case .added(let delivery) = deliveries[key], !(delivery.qos == .exactlyOnce && identifier.isClusterLink) {
                // Sequence numbers are not reused while a row has them, so there is no row to delete. A link
                // session's QoS 2 delivery may have a record of its being taken by the other node all the same.
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
        case .clusterDeliveryTaken(let node, let sequence):
            clusterTaken.append((node, sequence))
        }
    }
}

extension StoredSubscription {
    /// The options as one integer, as in the SUBSCRIBE packet's options byte (3.8.3.1).
    public var optionsValue: Int {
        Int(options.qos.rawValue) | (options.noLocal ? 0x04 : 0) | (options.retainAsPublished ? 0x08 : 0)
            | (Int(options.retainHandling.rawValue) << 4)
    }

    /// The options `optionsValue` gave.
    public static func options(fromValue value: Int) -> SubscriptionOptions {
        SubscriptionOptions(
            qos: QoS(rawValue: UInt8(value & 0x03)) ?? .atMostOnce, noLocal: value & 0x04 != 0, retainAsPublished: value & 0x08 != 0,
            retainHandling: SubscriptionOptions.RetainHandling(rawValue: UInt8((value >> 4) & 0x03)) ?? .sendOnSubscribe)
    }
}

extension StoredWill {
    /// The will as a message for `StoredMessageCodec`, and its Will Delay Interval apart: that is no PUBLISH property.
    public var storedMessage: (message: StoredMessage, delay: UInt32?) {
        var properties = self.properties
        let delay = properties.willDelayInterval
        properties.remove(.willDelayInterval)
        return (StoredMessage(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties), delay)
    }

    /// The will `storedMessage` gave.
    public init(storedMessage message: StoredMessage, delay: UInt32?, publishAt: WallClockTime?) {
        var properties = message.properties
        if let delay { properties.append(.willDelayInterval(delay)) }
        self.init(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain, properties: properties, publishAt: publishAt)
    }
}
