/// What one subscriber received, in terms of each publisher's sequence numbers: first deliveries, duplicates
/// and messages that arrived after a later one from the same publisher.
///
/// Each publisher's sequence numbers are kept as a bitset, so a duplicate is told apart from a first delivery
/// however late it comes; loss is what was sent and never seen.
struct DeliveryTracker: Sendable {
    /// Bounds that keep a corrupt or foreign payload from growing the bitsets without limit.
    static let maximumPublishers = 1 << 20
    static let maximumSequence: UInt64 = 1 << 32

    enum Outcome: Equatable {
        case first(outOfOrder: Bool)
        case duplicate
        case foreign
    }

    private(set) var delivered = 0
    private(set) var duplicates = 0
    private(set) var outOfOrder = 0
    /// Payloads without a readable header or with numbers beyond the bounds.
    private(set) var foreign = 0
    private var seen: [[UInt64]] = []
    private var lastSequence: [UInt64] = []

    init() {}

    @discardableResult
    mutating func record(sequence: UInt64, publisher: UInt32) -> Outcome {
        let p = Int(publisher)
        guard p < Self.maximumPublishers, sequence < Self.maximumSequence else {
            foreign += 1
            return .foreign
        }
        if p >= seen.count {
            seen.append(contentsOf: repeatElement([], count: p + 1 - seen.count))
            lastSequence.append(contentsOf: repeatElement(.max, count: p + 1 - lastSequence.count))
        }
        let word = Int(sequence >> 6)
        let bit = UInt64(1) << (sequence & 63)
        if word >= seen[p].count {
            // Doubling keeps the growth amortised for a publisher whose sequence climbs one by one.
            seen[p].append(contentsOf: repeatElement(0, count: max(word + 1, seen[p].count * 2) - seen[p].count))
        }
        if seen[p][word] & bit != 0 {
            duplicates += 1
            return .duplicate
        }
        seen[p][word] |= bit
        delivered += 1
        let late = lastSequence[p] != .max && sequence < lastSequence[p]
        if late { outOfOrder += 1 } else { lastSequence[p] = sequence }
        return .first(outOfOrder: late)
    }

    mutating func recordForeign() {
        foreign += 1
    }

    /// Adds another receiver's deliveries to this one's, as for the members of one shared subscription: a
    /// message that both received is one delivery and one duplicate. Order is judged within each receiver.
    mutating func merge(_ other: DeliveryTracker) {
        duplicates += other.duplicates
        outOfOrder += other.outOfOrder
        foreign += other.foreign
        for (p, words) in other.seen.enumerated() {
            if p >= seen.count {
                seen.append(contentsOf: repeatElement([], count: p + 1 - seen.count))
                lastSequence.append(contentsOf: repeatElement(.max, count: p + 1 - lastSequence.count))
            }
            if words.count > seen[p].count {
                seen[p].append(contentsOf: repeatElement(0, count: words.count - seen[p].count))
            }
            for (w, bits) in words.enumerated() where bits != 0 {
                let overlap = seen[p][w] & bits
                duplicates += overlap.nonzeroBitCount
                delivered += (bits & ~overlap).nonzeroBitCount
                seen[p][w] |= bits
            }
        }
    }

    /// Messages of `publisher` among its first `sent` that never arrived.
    func lost(publisher: Int, sent: Int) -> Int {
        guard sent > 0 else { return 0 }
        guard publisher < seen.count else { return sent }
        var received = 0
        let words = seen[publisher]
        let fullWords = sent / 64
        for w in 0..<min(fullWords, words.count) { received += words[w].nonzeroBitCount }
        let rest = sent % 64
        if rest > 0, fullWords < words.count {
            received += (words[fullWords] & ((UInt64(1) << UInt64(rest)) - 1)).nonzeroBitCount
        }
        return sent - received
    }
}
