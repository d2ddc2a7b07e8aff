import NIOConcurrencyHelpers
import NIOCore

/// One token bucket per client IP address, shared by every event loop; used on connect only.
final class AddressRateLimiter: Sendable {
    let limit: RateLimit
    private let buckets = NIOLockedValueBox<[String: TokenBucket]>([:])
    /// Addresses tracked at most; beyond it those whose bucket has refilled are forgotten, then all.
    static let maximumAddresses = 100_000

    init(_ limit: RateLimit) {
        self.limit = limit
    }

    /// Takes a token for `address`; false when its bucket is empty.
    func take(_ address: SocketAddress?) -> Bool {
        guard let key = address?.ipAddress else { return true }
        let now = NIODeadline.now()
        return buckets.withLockedValue { buckets in
            if buckets.count >= Self.maximumAddresses, buckets[key] == nil { Self.prune(&buckets, now: now) }
            return buckets[key, default: TokenBucket(limit, now: now)].take(now: now)
        }
    }

    /// Returns a token `take` took for `address`, when what it was reserved for does not count after all.
    func giveBack(_ address: SocketAddress?) {
        guard let key = address?.ipAddress else { return }
        let now = NIODeadline.now()
        buckets.withLockedValue { buckets in buckets[key]?.giveBack(now: now) }
    }

    private static func prune(_ buckets: inout [String: TokenBucket], now: NIODeadline) {
        for key in Array(buckets.keys) where buckets[key]!.isFull(now: now) {
            buckets.removeValue(forKey: key)
        }
        if buckets.count >= maximumAddresses { buckets.removeAll() }
    }
}
