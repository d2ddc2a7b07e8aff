import NIOConcurrencyHelpers

/// The deliveries of other nodes' link sessions that this node has taken (published here and committed, or being
/// committed), by node and sequence number, so that one sent again after its link dropped is acknowledged rather
/// than published twice. Bounded: a node resends only what is in flight on the link, at most the link's Receive
/// Maximum, always among the most recent.
final class TakenDeliveries: Sendable {
    private struct Recent {
        var members: Set<UInt64> = []
        var order: [UInt64] = []
        var oldest = 0

        mutating func insert(_ sequence: UInt64, limit: Int) -> Bool {
            guard members.insert(sequence).inserted else { return false }
            if order.count < limit {
                order.append(sequence)
            } else {
                members.remove(order[oldest])
                order[oldest] = sequence
                oldest = (oldest + 1) % limit
            }
            return true
        }
    }

    private let limit: Int
    private let nodes = NIOLockedValueBox<[String: Recent]>([:])

    init(limit: Int = 16_384) {
        self.limit = limit
    }

    /// Records `sequence` of `node` taken; false when it was already.
    func take(_ sequence: UInt64, from node: String) -> Bool {
        nodes.withLockedValue { $0[node, default: Recent()].insert(sequence, limit: limit) }
    }

    /// Forgets `sequence` of `node`: it could not be committed, and comes again.
    func forget(_ sequence: UInt64, from node: String) {
        nodes.withLockedValue { _ = $0[node]?.members.remove(sequence) }
    }

    /// Every recorded sequence of `node`.
    func sequences(of node: String) -> Set<UInt64> {
        nodes.withLockedValue { $0[node]?.members ?? [] }
    }
}
