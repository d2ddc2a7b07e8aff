import NIOCore

/// A token bucket for one `RateLimit`; a value type kept by whoever owns the thing it limits.
struct TokenBucket: Sendable {
    let limit: RateLimit
    private var tokens: Double
    private var refilled: NIODeadline

    init(_ limit: RateLimit, now: NIODeadline) {
        self.limit = limit
        self.tokens = limit.burst
        self.refilled = now
    }

    private mutating func refill(now: NIODeadline) {
        guard now > refilled else { return }
        let seconds = Double((now - refilled).nanoseconds) / 1_000_000_000
        tokens = min(limit.burst, tokens + seconds * limit.perSecond)
        refilled = now
    }

    /// Takes `cost` tokens if there are that many; a cost above the burst can pass only with a full bucket.
    mutating func take(_ cost: Double = 1, now: NIODeadline) -> Bool {
        refill(now: now)
        let needed = min(cost, limit.burst)
        guard tokens >= needed else { return false }
        tokens -= cost
        return true
    }

    /// Returns a token taken for something that turned out not to count (a reservation released).
    mutating func giveBack(_ cost: Double = 1, now: NIODeadline) {
        refill(now: now)
        tokens = min(limit.burst, tokens + cost)
    }

    mutating func isFull(now: NIODeadline) -> Bool {
        refill(now: now)
        return tokens >= limit.burst
    }
}
