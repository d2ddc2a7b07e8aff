import Atomics
import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// What happens in the broker, for applications that watch it through `MQTTBroker.events`.
public enum BrokerEvent: Sendable, Hashable {
    /// The broker accepted a client and sent it CONNACK 0x00; `version` is the protocol it connected with.
    case clientConnected(clientIdentifier: String, version: ProtocolVersion)
    /// The connection of a connected client ended: DISCONNECT, a network failure, keep alive, the broker closing
    /// it, or a new connection with the same client identifier taking its session over (MQTT-3.1.4-3), in which
    /// case the new one's `clientConnected` follows. Its session may live on, as its expiry says.
    case clientDisconnected(clientIdentifier: String)
    /// A SUBSCRIBE took effect; `topicFilters` are the filters granted, as the client sent them (`$share/`
    /// prefix included), without those refused.
    case subscribed(clientIdentifier: String, topicFilters: [String])
    /// An UNSUBSCRIBE was handled; `topicFilters` are the filters it named.
    case unsubscribed(clientIdentifier: String, topicFilters: [String])
    /// A message was accepted for routing: from a client, a will (`clientIdentifier` is the publisher's in
    /// both), or the application (`clientIdentifier` nil). `qos` and `retain` are as published.
    case published(clientIdentifier: String?, topic: String, payload: ByteBuffer, qos: QoS, retain: Bool)
}

/// Fans events out to every listening `AsyncStream`; costs one atomic load when nobody listens.
final class BrokerEventBroadcaster: Sendable {
    private struct Listener {
        let continuation: AsyncStream<BrokerEvent>.Continuation
        /// Whether it takes `published` events, one per message routed.
        let publications: Bool
    }

    private let listeners = NIOLockedValueBox<[Int: Listener]>([:])
    private let nextIdentifier = NIOLockedValueBox(0)
    private let listening = ManagedAtomic(false)
    private let listeningForPublications = ManagedAtomic(false)

    var hasListeners: Bool { listening.load(ordering: .relaxed) }
    var hasPublicationListeners: Bool { listeningForPublications.load(ordering: .relaxed) }

    func stream(bufferingNewest limit: Int, publications: Bool = true) -> AsyncStream<BrokerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: BrokerEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let identifier = nextIdentifier.withLockedValue { value in
            value += 1
            return value
        }
        listeners.withLockedValue { listeners in
            listeners[identifier] = Listener(continuation: continuation, publications: publications)
            listening.store(true, ordering: .relaxed)
            if publications { listeningForPublications.store(true, ordering: .relaxed) }
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.listeners.withLockedValue { listeners in
                listeners.removeValue(forKey: identifier)
                self.listening.store(!listeners.isEmpty, ordering: .relaxed)
                self.listeningForPublications.store(listeners.values.contains { $0.publications }, ordering: .relaxed)
            }
        }
        return stream
    }

    func emit(_ event: BrokerEvent) {
        let isPublication = if case .published = event { true } else { false }
        let current = listeners.withLockedValue { listeners in
            listeners.values.filter { !isPublication || $0.publications }.map(\.continuation)
        }
        for continuation in current { continuation.yield(event) }
    }

    func finish() {
        let current = listeners.withLockedValue { listeners in
            defer { listeners.removeAll() }
            return listeners.values.map(\.continuation)
        }
        for continuation in current { continuation.finish() }
    }
}
