/// Hands `BrokerObserver` calls from the event loops to one task that makes them in order.
final class BrokerObserverFeed: Sendable {
    /// Calls waiting to be made; beyond it the oldest are dropped, so a slow observer cannot exhaust memory.
    static let capacity = 100_000

    private let continuation: AsyncStream<BrokerEventSink.Event>.Continuation
    private let task: Task<Void, Never>

    init(_ observer: any BrokerObserver) {
        let (stream, continuation) = AsyncStream.makeStream(of: BrokerEventSink.Event.self, bufferingPolicy: .bufferingNewest(Self.capacity))
        self.continuation = continuation
        self.task = Task {
            for await event in stream {
                switch event {
                case .connected(let client): await observer.clientConnected(client)
                case .disconnected(let client): await observer.clientDisconnected(client)
                case .subscribed(let client, let filters): await observer.subscribed(client, topicFilters: filters)
                case .unsubscribed(let client, let filters): await observer.unsubscribed(client, topicFilters: filters)
                case .published(let message): await observer.published(message)
                }
            }
        }
    }

    func emit(_ event: BrokerEventSink.Event) {
        continuation.yield(event)
    }

    /// Makes the calls already queued, then stops.
    func finish() async {
        continuation.finish()
        await task.value
    }
}
