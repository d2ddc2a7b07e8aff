import NIOCore

/// For 3.1.1 remotes, which have no No Local: the messages a `both` rule sent out, remembered briefly, so that
/// the copy the remote sends back to the bridge's own subscription is not brought in again (a loop).
struct EchoGuard {
    private struct Fingerprint: Hashable {
        var topic: String
        var payload: ByteBuffer
    }

    private var counts: [Fingerprint: Int] = [:]
    private var order: [Fingerprint] = []
    private var start = 0
    /// How many messages sent out are remembered at most; the oldest are forgotten first.
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// A message went out to `topic` at the remote.
    mutating func sent(topic: String, payload: ByteBuffer) {
        let fingerprint = Fingerprint(topic: topic, payload: payload)
        counts[fingerprint, default: 0] += 1
        order.append(fingerprint)
        if order.count - start > capacity { forgetOldest() }
        if start > capacity {
            order.removeFirst(start)
            start = 0
        }
    }

    /// Whether a message from the remote is the echo of one sent out; an echo is recognised once.
    mutating func isEcho(topic: String, payload: ByteBuffer) -> Bool {
        let fingerprint = Fingerprint(topic: topic, payload: payload)
        guard let count = counts[fingerprint] else { return false }
        counts[fingerprint] = count > 1 ? count - 1 : nil
        return true
    }

    private mutating func forgetOldest() {
        let oldest = order[start]
        start += 1
        if let count = counts[oldest] { counts[oldest] = count > 1 ? count - 1 : nil }
    }
}
