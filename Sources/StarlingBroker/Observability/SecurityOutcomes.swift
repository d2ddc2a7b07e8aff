/// What authentication and authorization decided, since the broker started.
public struct SecurityOutcomes: Sendable, Hashable {
    /// Clients the authenticator let in.
    public var authenticationsSucceeded: UInt64 = 0
    /// Clients the authenticator refused, or that it failed to answer for.
    public var authenticationsFailed: UInt64 = 0
    /// PUBLISH packets an ACL or the publish authorizer allowed (counted only when one is configured).
    public var publishesAllowed: UInt64 = 0
    /// PUBLISH packets an ACL or the publish authorizer refused.
    public var publishesDenied: UInt64 = 0
    /// Subscriptions an ACL or the subscribe authorizer allowed (counted only when one is configured).
    public var subscriptionsAllowed: UInt64 = 0
    /// Subscriptions an ACL or the subscribe authorizer refused.
    public var subscriptionsDenied: UInt64 = 0

    /// All counters at zero.
    public init() {}

    static func + (lhs: SecurityOutcomes, rhs: SecurityOutcomes) -> SecurityOutcomes {
        var sum = lhs
        sum.authenticationsSucceeded &+= rhs.authenticationsSucceeded
        sum.authenticationsFailed &+= rhs.authenticationsFailed
        sum.publishesAllowed &+= rhs.publishesAllowed
        sum.publishesDenied &+= rhs.publishesDenied
        sum.subscriptionsAllowed &+= rhs.subscriptionsAllowed
        sum.subscriptionsDenied &+= rhs.subscriptionsDenied
        return sum
    }
}

/// What became of sessions, since the broker started.
public struct SessionOutcomes: Sendable, Hashable {
    /// New sessions given to connecting clients (Session Present 0).
    public var created: UInt64 = 0
    /// Sessions a connecting client resumed (Session Present 1).
    public var resumed: UInt64 = 0
    /// Connections whose session another connection with the same client identifier took over.
    public var takenOver: UInt64 = 0
    /// Sessions that ended because their client stayed away beyond their expiry interval.
    public var expired: UInt64 = 0

    /// All counters at zero.
    public init() {}

    static func + (lhs: SessionOutcomes, rhs: SessionOutcomes) -> SessionOutcomes {
        var sum = lhs
        sum.created &+= rhs.created
        sum.resumed &+= rhs.resumed
        sum.takenOver &+= rhs.takenOver
        sum.expired &+= rhs.expired
        return sum
    }
}
