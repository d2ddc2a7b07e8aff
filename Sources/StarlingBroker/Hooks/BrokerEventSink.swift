import MQTT

/// The one place what happens in the broker is told: the `MQTTBroker.events` streams and the embedder's
/// `BrokerObserver` both read from it, so that each event is said once, where it happens. Costs one atomic
/// load when nobody listens.
final class BrokerEventSink: Sendable {
    enum Event: Sendable {
        case connected(ClientInfo)
        case disconnected(ClientInfo)
        case subscribed(ClientInfo, topicFilters: [String])
        case unsubscribed(ClientInfo, topicFilters: [String])
        /// A message accepted for routing: from a client (`publisher` set), a will, or the application.
        case published(Message)

        /// The event as `MQTTBroker.events` streams it.
        var brokerEvent: BrokerEvent {
            switch self {
            case .connected(let client): .clientConnected(clientIdentifier: client.clientIdentifier, version: client.protocolVersion)
            case .disconnected(let client): .clientDisconnected(clientIdentifier: client.clientIdentifier)
            case .subscribed(let client, let filters): .subscribed(clientIdentifier: client.clientIdentifier, topicFilters: filters)
            case .unsubscribed(let client, let filters): .unsubscribed(clientIdentifier: client.clientIdentifier, topicFilters: filters)
            case .published(let message):
                .published(clientIdentifier: message.publisher, topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain)
            }
        }
    }

    let streams = BrokerEventBroadcaster()
    private let observer: BrokerObserverFeed?

    init(observer: (any BrokerObserver)?) {
        self.observer = observer.map(BrokerObserverFeed.init)
    }

    /// Whether anybody listens: check it before making an event.
    var isListening: Bool { observer != nil || streams.hasListeners }
    /// Whether anybody listens for published messages: check it before making a `published` event.
    var isListeningForPublications: Bool { observer != nil || streams.hasPublicationListeners }

    func emit(_ event: Event) {
        observer?.emit(event)
        if streams.hasListeners { streams.emit(event.brokerEvent) }
    }

    /// Ends the streams and makes the observer calls already queued.
    func finish() async {
        streams.finish()
        await observer?.finish()
    }
}
