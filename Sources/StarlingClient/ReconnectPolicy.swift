import NIOCore

/// When and how often a client connects again after losing its connection.
///
/// Delays grow exponentially from `initialDelay` by `multiplier` up to `maximumDelay`; each is then spread by
/// ±`jitter` (a fraction of the delay) so that many clients dropped by the same broker restart do not return in
/// lockstep.
public struct ReconnectPolicy: Sendable, Hashable {
    /// Whether a lost connection is made again at all; false in `disabled`.
    public var isEnabled: Bool
    /// The delay before the first attempt after a loss, before jitter.
    public var initialDelay: TimeAmount
    /// The longest delay between two attempts, however many have failed.
    public var maximumDelay: TimeAmount
    /// How much longer each delay is than the one before (at least 1).
    public var multiplier: Double
    /// The fraction of each delay by which it is randomly lengthened or shortened, in 0...1.
    public var jitter: Double
    /// How many consecutive failed attempts are made before giving up; nil for no limit.
    public var maximumAttempts: Int?
    /// Whether `withConnection` (and `withMQTTClient`) also waits for a broker that is not up yet, trying its
    /// first connection with these delays as MQTT.js does, instead of failing at the first refusal. `run()`
    /// always does.
    public var retriesFirstConnection: Bool

    /// A policy that reconnects, with these delays; `jitter` is clamped to 0...1.
    public init(
        initialDelay: TimeAmount = .milliseconds(500), maximumDelay: TimeAmount = .seconds(30), multiplier: Double = 2,
        jitter: Double = 0.2, maximumAttempts: Int? = nil, retriesFirstConnection: Bool = false
    ) {
        self.isEnabled = true
        self.retriesFirstConnection = retriesFirstConnection
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = min(max(jitter, 0), 1)
        self.maximumAttempts = maximumAttempts
    }

    /// Exponential backoff from half a second to thirty seconds, with 20% jitter and no attempt limit.
    public static let exponentialBackoff = ReconnectPolicy()

    /// Never reconnect: a lost connection ends the client.
    public static let disabled: ReconnectPolicy = {
        var policy = ReconnectPolicy()
        policy.isEnabled = false
        return policy
    }()

    /// The delay before attempt number `attempt` (1 for the first attempt after a loss).
    public func delay(beforeAttempt attempt: Int) -> TimeAmount {
        var generator = SystemRandomNumberGenerator()
        return delay(beforeAttempt: attempt, using: &generator)
    }

    /// The delay before attempt number `attempt`, its jitter drawn from `generator`: with a seeded generator, the
    /// same every time.
    public func delay(beforeAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> TimeAmount {
        let initial = Double(max(initialDelay.nanoseconds, 0))
        let ceiling = Double(max(maximumDelay.nanoseconds, initialDelay.nanoseconds))
        let exponent = Double(max(attempt - 1, 0))
        let base = min(initial * pow(max(multiplier, 1), exponent), ceiling)
        let spread = base * jitter
        let jittered = spread > 0 ? base + Double.random(in: -spread...spread, using: &generator) : base
        return .nanoseconds(Int64(min(max(jittered, 0), ceiling)))
    }

    /// Whether another attempt is allowed after `failedAttempts` consecutive failures.
    public func allowsAttempt(after failedAttempts: Int) -> Bool {
        guard isEnabled else { return false }
        guard let maximumAttempts else { return true }
        return failedAttempts < maximumAttempts
    }
}

/// `pow` without Foundation: the exponent here is a small non-negative integer.
private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        if result.isInfinite { return result }
        remaining -= 1
    }
    return result
}
