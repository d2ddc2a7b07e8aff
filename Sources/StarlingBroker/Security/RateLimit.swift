/// A sustained rate with room for bursts: `burst` at once, then `perSecond` on average.
public struct RateLimit: Sendable, Hashable {
    /// The sustained rate, per second, of what is limited: messages, connections or failed logins, bytes for
    /// `Limits.publishBandwidth`. `init` makes a negative rate 0.
    public var perSecond: Double
    /// How many may come at once, at the start or after a quiet spell (the bucket's size). `init` makes it at
    /// least 1.
    public var burst: Double

    /// `burst` defaults to one second's worth (and at least 1).
    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = max(0, perSecond)
        self.burst = max(1, burst ?? perSecond)
    }
}
