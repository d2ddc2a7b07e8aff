import NIOCore

/// One connection's publish rate and bandwidth budgets.
struct PublishQuota {
    var messages: TokenBucket?
    var bytes: TokenBucket?

    init?(rate: RateLimit?, bandwidth: RateLimit?, now: NIODeadline) {
        guard rate != nil || bandwidth != nil else { return nil }
        messages = rate.map { TokenBucket($0, now: now) }
        bytes = bandwidth.map { TokenBucket($0, now: now) }
    }

    mutating func admit(payloadBytes: Int, now: NIODeadline) -> Bool {
        if messages != nil && !messages!.take(now: now) { return false }
        if bytes != nil && !bytes!.take(Double(payloadBytes), now: now) { return false }
        return true
    }
}
