import MQTT

/// The protocol's rules for a client's SUBSCRIBE (3.8, 3.9): which of its filters are accepted, with what QoS,
/// and the reason code for each; or the Protocol Error that ends the connection first. What the ACL and the
/// subscribe hook answered, and what the session already holds, are inputs; the connection applies the outcome.
///
/// Plain values only, so that every rule is tested from tables (`SubscribeNegotiationTests`).
struct SubscribeNegotiation: Sendable, Hashable {
    var maximumQoS: QoS
    var subscriptionIdentifiersAvailable: Bool
    var sharedSubscriptionAvailable: Bool
    var wildcardSubscriptionAvailable: Bool
    var topicLimits: TopicLimits
    var maximumSubscriptionsPerClient: Int

    init(configuration: BrokerConfiguration) {
        maximumQoS = configuration.maximumQoS
        subscriptionIdentifiersAvailable = configuration.subscriptionIdentifiersAvailable
        sharedSubscriptionAvailable = configuration.sharedSubscriptionAvailable
        wildcardSubscriptionAvailable = configuration.wildcardSubscriptionAvailable
        topicLimits = configuration.limits.topicLimits
        maximumSubscriptionsPerClient = configuration.limits.maximumSubscriptionsPerClient
    }

    /// A subscription the broker takes.
    struct Accepted: Equatable {
        var filter: TopicFilter
        /// As requested, with the QoS granted.
        var options: SubscriptionOptions
        /// The session did not hold this filter before (for Retain Handling 1).
        var isNew: Bool
    }

    /// What SUBACK says and which subscriptions take effect.
    struct Answer: Equatable {
        /// One per subscription of the packet, in its order.
        var reasonCodes: [ReasonCode] = []
        /// 5.0: why subscriptions failed, for the Reason String.
        var problems: [String] = []
        var accepted: [Accepted] = []
        /// Filters the ACL refused, for the log.
        var denied: [String] = []
    }

    enum Outcome: Equatable {
        case answer(Answer)
        /// A Protocol Error in the packet as a whole: the connection ends, before any subscription takes effect.
        case disconnect(ReasonCode, reasonString: String)
    }

    /// - Parameters:
    ///   - decisions: the subscribe hook's answers, one per subscription, when one is configured.
    ///   - maySubscribe: the ACL's answer for a filter.
    ///   - isSubscribed: whether the session holds a filter already.
    ///   - subscriptionCount: how many filters the session holds.
    func negotiate(
        _ subscribe: SubscribePacket, version: ProtocolVersion, decisions: [SubscribeAuthorization]?,
        maySubscribe: (TopicFilter) -> Bool, isSubscribed: (TopicFilter) -> Bool, subscriptionCount: Int
    ) -> Outcome {
        let v5 = version == .v5
        if subscribe.properties.subscriptionIdentifiers.first != nil && !subscriptionIdentifiersAvailable {
            // 3.2.2.3.12: a Subscription Identifier after Subscription Identifiers Available 0 in CONNACK.
            return .disconnect(.subscriptionIdentifiersNotSupported, reasonString: "Subscription Identifiers are not available")
        }
        let sharedRefused = !sharedSubscriptionAvailable
        let wildcardsRefused = !wildcardSubscriptionAvailable
        if v5 && (sharedRefused || wildcardsRefused) {
            // 3.2.2.3.11, .13: the client was told these are not available, so using them is a Protocol Error that
            // ends the connection, before any of the packet's subscriptions takes effect.
            for subscription in subscribe.subscriptions {
                guard let filter = try? TopicFilter(subscription.topicFilter, limits: topicLimits) else { continue }
                if sharedRefused && filter.isShared {
                    return .disconnect(.sharedSubscriptionsNotSupported, reasonString: "shared subscriptions are not available")
                }
                if wildcardsRefused && filter.hasWildcards {
                    return .disconnect(.wildcardSubscriptionsNotSupported, reasonString: "wildcard subscriptions are not available")
                }
            }
        }
        var answer = Answer()
        // Filters this packet adds: a filter repeated in it is new only the first time, and counts once.
        var added: Set<ExactString> = []
        for (index, subscription) in subscribe.subscriptions.enumerated() {
            guard let filter = try? TopicFilter(subscription.topicFilter, limits: topicLimits) else {
                answer.reasonCodes.append(v5 ? .topicFilterInvalid : .subscriptionFailure)
                if v5 { answer.problems.append("invalid topic filter \"\(subscription.topicFilter)\"") }
                continue
            }
            // A 3.1.1 client cannot be told what is not available: only its subscription fails.
            if (sharedRefused && filter.isShared) || (wildcardsRefused && filter.hasWildcards) {
                answer.reasonCodes.append(.subscriptionFailure)
                continue
            }
            if !maySubscribe(filter) {
                // 5.0 3.9.3: Not authorized; 3.1.1: Failure.
                answer.reasonCodes.append(v5 ? .notAuthorized : .subscriptionFailure)
                if v5 { answer.problems.append("not allowed to subscribe to \"\(subscription.topicFilter)\"") }
                answer.denied.append(subscription.topicFilter)
                continue
            }
            var grantable = maximumQoS
            switch decisions?[index] {
            case .refuse(let reason):
                answer.reasonCodes.append(v5 ? (reason.isFailure ? reason : .notAuthorized) : .subscriptionFailure)
                continue
            case .downgrade(let qos):
                grantable = min(grantable, qos)
            case .allow, nil:
                break
            }
            let key = ExactString(filter.rawValue)
            let isNew = !added.contains(key) && !isSubscribed(filter)
            if isNew && subscriptionCount + added.count >= maximumSubscriptionsPerClient {
                answer.reasonCodes.append(v5 ? .quotaExceeded : .subscriptionFailure)
                if v5 { answer.problems.append("more than \(maximumSubscriptionsPerClient) subscriptions") }
                continue
            }
            if isNew { added.insert(key) }
            // MQTT-3.2.2-10: any requested QoS is accepted, and granted up to the Maximum QoS.
            var options = subscription.options
            options.qos = min(options.qos, grantable)
            answer.accepted.append(Accepted(filter: filter, options: options, isNew: isNew))
            answer.reasonCodes.append(.granted(options.qos))
        }
        return .answer(answer)
    }
}
