import MQTT

/// One subscription of a stored session.
public struct StoredSubscription: Sendable, Hashable {
    /// The topic filter as the client sent it, `$share/` prefix included.
    public var topicFilter: String
    /// The options the client subscribed with: maximum QoS, No Local, Retain As Published, Retain Handling
    /// (3.8.3.1).
    public var options: SubscriptionOptions
    /// The Subscription Identifier of the SUBSCRIBE that made it (5.0, 3.8.2.1.2); nil when it had none.
    public var identifier: Int?

    /// A subscription to `topicFilter`, without a subscription identifier unless given.
    public init(topicFilter: String, options: SubscriptionOptions, identifier: Int? = nil) {
        self.topicFilter = topicFilter
        self.options = options
        self.identifier = identifier
    }
}
