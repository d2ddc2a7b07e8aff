/// A sustained rate with room for bursts: `burst` at once, then `perSecond` on average.
public struct RateLimit: Sendable, Hashable {
    public var perSecond: Double
    public var burst: Double

    /// `burst` defaults to one second's worth (and at least 1).
    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = max(0, perSecond)
        self.burst = max(1, burst ?? perSecond)
    }
}
