import MQTT

/// One subscription of a stored session.
public struct StoredSubscription: Sendable, Hashable {
    /// The topic filter as the client sent it, `$share/` prefix included.
    public var topicFilter: String
    public var options: SubscriptionOptions
    public var identifier: Int?

    public init(topicFilter: String, options: SubscriptionOptions, identifier: Int? = nil) {
        self.topicFilter = topicFilter
        self.options = options
        self.identifier = identifier
    }
}
