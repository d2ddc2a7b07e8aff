import MQTT
import NIOConcurrencyHelpers
import OrderedCollections

/// A store that keeps its state in memory: for tests, and for applications that persist it themselves or want a
/// broker's sessions to survive a restart of the broker (not of the process) by giving the new broker the same store.
public final class InMemoryBrokerStore: BrokerStore {
    private struct Session {
        var expiryInterval: UInt32
        var expiresAt: WallClockTime?
        var subscriptions: OrderedDictionary<ExactString, StoredSubscription> = [:]
        var deliveries: OrderedDictionary<UInt64, StoredDelivery> = [:]
        var receivedQoS2: OrderedSet<UInt16> = []
        var will: StoredWill?
    }

    /// Keyed by bytes, as the broker keys them: canonically equivalent identifiers and topics are different.
    private struct State {
        var sessions: OrderedDictionary<ExactString, Session> = [:]
        var retained: OrderedDictionary<ExactString, StoredMessage> = [:]
        var commits = 0
    }

    private let state = NIOLockedValueBox(State())

    /// An empty store.
    public init() {}

    /// Batches committed so far.
    public var commitCount: Int { state.withLockedValue { $0.commits } }

    /// Everything committed so far; each session's deliveries in the order of their sequence numbers.
    public func load() async throws -> StoredState {
        state.withLockedValue { state in
            StoredState(
                sessions: state.sessions.map { clientIdentifier, session in
                    StoredSession(
                        clientIdentifier: clientIdentifier.string, expiryInterval: session.expiryInterval, expiresAt: session.expiresAt,
                        subscriptions: Array(session.subscriptions.values),
                        deliveries: session.deliveries.values.sorted { $0.sequence < $1.sequence },
                        receivedQoS2: Array(session.receivedQoS2), will: session.will)
                },
                retained: Array(state.retained.values))
        }
    }

    /// Applies `changes` under one lock, so that `load` sees all of a batch or none of it. A change about a session
    /// the store does not hold (other than `sessionSaved`) is ignored. Never throws.
    public func commit(_ changes: [StoreChange]) async throws {
        state.withLockedValue { state in
            state.commits += 1
            for change in changes { Self.apply(change, to: &state) }
        }
    }

    /// Does nothing: the state stays, for `load` by another broker given this store.
    public func close() async throws {}

    private static func apply(_ change: StoreChange, to state: inout State) {
        switch change {
        case .sessionSaved(let clientIdentifier, let expiryInterval, let expiresAt):
            if state.sessions[ExactString(clientIdentifier)] == nil {
                state.sessions[ExactString(clientIdentifier)] = Session(expiryInterval: expiryInterval, expiresAt: expiresAt)
            } else {
                state.sessions[ExactString(clientIdentifier)]!.expiryInterval = expiryInterval
                state.sessions[ExactString(clientIdentifier)]!.expiresAt = expiresAt
            }
        case .sessionDeleted(let clientIdentifier):
            state.sessions.removeValue(forKey: ExactString(clientIdentifier))
        case .subscriptionSaved(let clientIdentifier, let subscription):
            state.sessions[ExactString(clientIdentifier)]?.subscriptions[ExactString(subscription.topicFilter)] = subscription
        case .subscriptionDeleted(let clientIdentifier, let topicFilter):
            state.sessions[ExactString(clientIdentifier)]?.subscriptions.removeValue(forKey: ExactString(topicFilter))
        case .deliveryAdded(let clientIdentifier, let delivery):
            state.sessions[ExactString(clientIdentifier)]?.deliveries[delivery.sequence] = delivery
        case .deliveryReleased(let clientIdentifier, let sequence):
            state.sessions[ExactString(clientIdentifier)]?.deliveries[sequence]?.released = true
        case .deliveryRemoved(let clientIdentifier, let sequence):
            state.sessions[ExactString(clientIdentifier)]?.deliveries.removeValue(forKey: sequence)
        case .qos2Received(let clientIdentifier, let packetIdentifier):
            state.sessions[ExactString(clientIdentifier)]?.receivedQoS2.append(packetIdentifier)
        case .qos2Released(let clientIdentifier, let packetIdentifier):
            state.sessions[ExactString(clientIdentifier)]?.receivedQoS2.remove(packetIdentifier)
        case .willSaved(let clientIdentifier, let will):
            state.sessions[ExactString(clientIdentifier)]?.will = will
        case .willDeleted(let clientIdentifier):
            state.sessions[ExactString(clientIdentifier)]?.will = nil
        case .retainedSaved(let message):
            state.retained[ExactString(message.topic)] = message
        case .retainedDeleted(let topic):
            state.retained.removeValue(forKey: ExactString(topic))
        case .clusterDeliveryTaken:
            break
        }
    }
}
