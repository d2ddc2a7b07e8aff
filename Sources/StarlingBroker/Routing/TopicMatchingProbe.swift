import MQTT

/// A replica of the topic tree, one session per subscription, for the micro-benchmarks under `Benchmarks/`.
/// Not part of the API.
@_spi(Benchmarks) public struct TopicMatchingProbe {
    private var tree = TopicTree()
    private var matches: [TopicTree.Subscriber] = []

    /// A tree with one subscription per filter, each for a session of its own; throws at an invalid filter.
    public init(filters: [String]) throws {
        for (index, filter) in filters.enumerated() {
            let session = Session(clientIdentifier: "probe-\(index)", homeIndex: 0)
            tree.insert(try TopicFilter(filter), TopicTree.Subscriber(session: session, options: SubscriptionOptions()))
        }
    }

    /// How many subscriptions match `topic`.
    public mutating func match(_ topic: String) -> Int {
        matches.removeAll(keepingCapacity: true)
        _ = tree.match(topic, publisher: nil, into: &matches)
        return matches.count
    }
}
