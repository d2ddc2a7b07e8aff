import MQTT

/// The subscriptions that end at one filter in a replica of the topic tree: ordinary ones, one per session, and
/// shared ones by share name.
///
/// Most filters have one subscriber, so it is kept inline (16 bytes: the session and a `PackedSubscription`);
/// further subscribers and shared groups, rarer, hang behind one reference that is nil otherwise. The whole
/// value is 24 bytes.
struct FilterSubscribers {
    /// One session's subscription to the filter.
    struct Entry {
        let session: Session
        var subscription: PackedSubscription
    }

    /// The members of a shared subscription's group are kept in the order of their sessions' identities, the same
    /// in every replica whatever order the subscriptions reached it in, so that hashing a publisher picks the same
    /// member on every loop, and the replicas share one cursor, so that taking turns spans the loops.
    struct SharedGroup {
        var members: [Entry] = []
        let cursor: SharedGroupCursor
        /// The shared subscription, `$share/{ShareName}/{filter}`, that its deliveries carry.
        let share: TopicFilter
    }

    /// What a filter holds beyond one ordinary subscriber. A class, so that `FilterSubscribers` stays 24 bytes;
    /// each replica builds its own, so no two replicas share one.
    final class Rest {
        /// The ordinary subscribers after `first`.
        var entries: [Entry] = []
        /// Where each session is in `entries`, once there are enough of them for a scan to cost more than a lookup.
        var positions: [ObjectIdentifier: Int]?
        /// Shared subscriptions, by share name.
        var groups: [ExactString: SharedGroup] = [:]

        static let indexedFrom = 16

        func position(of session: Session) -> Int? {
            if let positions { return positions[ObjectIdentifier(session)] }
            return entries.firstIndex { $0.session === session }
        }
    }

    private(set) var first: Entry?
    private(set) var rest: Rest?

    var isEmpty: Bool { first == nil && rest == nil }

    /// Adds or replaces the ordinary subscription of `entry.session`; returns whether it is new.
    mutating func insert(_ entry: Entry) -> Bool {
        if let first, first.session === entry.session {
            self.first = entry
            return false
        }
        if let rest, let index = rest.position(of: entry.session) {
            rest.entries[index] = entry
            return false
        }
        guard first != nil else {
            first = entry
            return true
        }
        let rest = self.rest ?? Rest()
        self.rest = rest
        rest.entries.append(entry)
        if rest.positions != nil {
            rest.positions![ObjectIdentifier(entry.session)] = rest.entries.count - 1
        } else if rest.entries.count >= Rest.indexedFrom {
            var positions: [ObjectIdentifier: Int] = [:]
            for (index, entry) in rest.entries.enumerated() { positions[ObjectIdentifier(entry.session)] = index }
            rest.positions = positions
        }
        return true
    }

    /// Removes the ordinary subscription of `session`; returns whether there was one.
    mutating func remove(_ session: Session) -> Bool {
        if let first, first.session === session {
            if let rest, let last = rest.entries.popLast() {
                rest.positions?[ObjectIdentifier(last.session)] = nil
                self.first = last
            } else {
                self.first = nil
            }
            pruneRest()
            return true
        }
        guard let rest, let index = rest.position(of: session) else { return false }
        let last = rest.entries.removeLast()
        rest.positions?[ObjectIdentifier(session)] = nil
        if index < rest.entries.count {
            rest.entries[index] = last
            rest.positions?[ObjectIdentifier(last.session)] = index
        }
        pruneRest()
        return true
    }

    /// Adds or replaces the subscription of `entry.session` to the shared subscription `share`; a group new to
    /// this replica takes `cursor`. Returns whether the subscription is new.
    mutating func insert(_ entry: Entry, share: TopicFilter, cursor: SharedGroupCursor?) -> Bool {
        guard let shareName = share.shareName else { return insert(entry) }
        let key = ExactString(shareName)
        let rest = self.rest ?? Rest()
        self.rest = rest
        var group = rest.groups[key] ?? SharedGroup(cursor: cursor ?? SharedGroupCursor(), share: share)
        let new: Bool
        if let index = group.members.firstIndex(where: { $0.session === entry.session }) {
            group.members[index] = entry
            new = false
        } else {
            let identity = ObjectIdentifier(entry.session)
            let index = group.members.firstIndex { ObjectIdentifier($0.session) > identity } ?? group.members.endIndex
            group.members.insert(entry, at: index)
            new = true
        }
        rest.groups[key] = group
        return new
    }

    /// Removes the subscription of `session` to the shared subscription named `shareName`; returns whether there was one.
    mutating func remove(_ session: Session, shareName: String) -> Bool {
        let key = ExactString(shareName)
        guard let rest, var group = rest.groups[key],
            let index = group.members.firstIndex(where: { $0.session === session })
        else { return false }
        group.members.remove(at: index)
        rest.groups[key] = group.members.isEmpty ? nil : group
        pruneRest()
        return true
    }

    func group(named shareName: String) -> SharedGroup? {
        rest?.groups[ExactString(shareName)]
    }

    private mutating func pruneRest() {
        guard let rest else { return }
        if rest.entries.isEmpty && rest.groups.isEmpty {
            self.rest = nil
        } else if rest.entries.count < Rest.indexedFrom / 2 {
            rest.positions = nil
        }
    }
}
