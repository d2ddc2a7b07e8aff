import DequeModule

/// A session's outbound QoS 1 and 2 flows by packet identifier, in the order they were sent (MQTT-4.6.0-1).
///
/// Acknowledgements come mostly in order, oldest first. An ordered dictionary shifts every later entry, and
/// its index, when the first is removed: with 1,000 in flight that was a tenth of the broker's time in QoS 1
/// fan-in. Here the entries are a plain dictionary and the order a queue of identifiers, each stamped with the
/// number it was sent under: a removal leaves its stamp behind, which is dropped once it reaches the front (or
/// when the stale ones outnumber the live ones), so that taking out the oldest costs O(1).
struct InflightWindow: Sequence {
    private var entries: [UInt16: (stamp: UInt32, outbound: Session.Outbound)] = [:]
    private var order: Deque<(identifier: UInt16, stamp: UInt32)> = []
    private var nextStamp: UInt32 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// An entry set for a new identifier goes last; one set for a known identifier keeps its place.
    subscript(identifier: UInt16) -> Session.Outbound? {
        get { entries[identifier]?.outbound }
        set {
            guard let newValue else {
                removeValue(forKey: identifier)
                return
            }
            if let existing = entries[identifier] {
                entries[identifier] = (existing.stamp, newValue)
                return
            }
            entries[identifier] = (nextStamp, newValue)
            order.append((identifier, nextStamp))
            nextStamp &+= 1
        }
    }

    @discardableResult
    mutating func removeValue(forKey identifier: UInt16) -> Session.Outbound? {
        guard let removed = entries.removeValue(forKey: identifier) else { return nil }
        while let first = order.first, !isLive(first) { order.removeFirst() }
        if order.count > 2 * entries.count + 16 {
            let entries = self.entries
            order.removeAll { entries[$0.identifier]?.stamp != $0.stamp }
        }
        return removed.outbound
    }

    mutating func removeAll() {
        entries.removeAll()
        order.removeAll()
    }

    /// The outbound messages, in the order they were sent.
    var values: [Session.Outbound] { map(\.outbound) }

    private func isLive(_ stamped: (identifier: UInt16, stamp: UInt32)) -> Bool {
        entries[stamped.identifier]?.stamp == stamped.stamp
    }

    struct Iterator: IteratorProtocol {
        fileprivate let window: InflightWindow
        fileprivate var position: Deque<(identifier: UInt16, stamp: UInt32)>.Index

        mutating func next() -> (identifier: UInt16, outbound: Session.Outbound)? {
            while position < window.order.endIndex {
                let stamped = window.order[position]
                position += 1
                if let entry = window.entries[stamped.identifier], entry.stamp == stamped.stamp {
                    return (stamped.identifier, entry.outbound)
                }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator {
        Iterator(window: self, position: order.startIndex)
    }
}
