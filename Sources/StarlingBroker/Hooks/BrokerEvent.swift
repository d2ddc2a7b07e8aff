import Atomics
import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// What happens in the broker, for applications that watch it through `MQTTBroker.events`.
public enum BrokerEvent: Sendable, Hashable {
    case clientConnected(clientIdentifier: String, version: ProtocolVersion)
    case clientDisconnected(clientIdentifier: String)
    case subscribed(clientIdentifier: String, topicFilters: [String])
    case unsubscribed(clientIdentifier: String, topicFilters: [String])
    case published(clientIdentifier: String?, topic: String, payload: ByteBuffer, qos: QoS, retain: Bool)
}

/// Fans events out to every listening `AsyncStream`; costs one atomic load when nobody listens.
final class BrokerEventBroadcaster: Sendable {
    private let continuations = NIOLockedValueBox<[Int: AsyncStream<BrokerEvent>.Continuation]>([:])
    private let nextIdentifier = NIOLockedValueBox(0)
    private let listening = ManagedAtomic(false)

    var hasListeners: Bool { listening.load(ordering: .relaxed) }

    func stream(bufferingNewest limit: Int) -> AsyncStream<BrokerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: BrokerEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let identifier = nextIdentifier.withLockedValue { value in
            value += 1
            return value
        }
        continuations.withLockedValue { $0[identifier] = continuation }
        listening.store(true, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let empty = self.continuations.withLockedValue { continuations in
                continuations.removeValue(forKey: identifier)
                return continuations.isEmpty
            }
            if empty { self.listening.store(false, ordering: .relaxed) }
        }
        return stream
    }

    func emit(_ event: BrokerEvent) {
        let current = continuations.withLockedValue { Array($0.values) }
        for continuation in current { continuation.yield(event) }
    }

    func finish() {
        let current = continuations.withLockedValue { continuations in
            defer { continuations.removeAll() }
            return Array(continuations.values)
        }
        for continuation in current { continuation.finish() }
    }
}
