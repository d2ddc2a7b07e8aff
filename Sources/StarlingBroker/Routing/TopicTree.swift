import Atomics
import MQTT

/// The subscriptions of every session, as a tree of topic levels, for matching topic names to subscribers.
///
/// Each event loop holds its own replica, so the publish path reads it without any lock; changes are applied
/// to every replica before SUBACK / UNSUBACK is sent.
struct TopicTree {
    /// One level of the tree.
    ///
    /// Every access to a node's properties is a single read or a single replacement, on the loop that owns the
    /// replica: no two accesses can overlap, so the run-time exclusivity checks, which cost the publish path more
    /// than the matching itself, are left out.
    final class Node {
        /// By the level's bytes: canonically equivalent levels are different levels (MQTT-4.7.3-4).
        @exclusivity(unchecked) var children: [ExactSubstring: Node] = [:] {
            didSet {
                multiLevelWildcard = children["#"]
                singleLevelWildcard = children["+"]
            }
        }
        /// `children["#"]` and `children["+"]`, looked for at every level of every topic routed: kept apart, each
        /// costs a nil check instead of hashing a string.
        @exclusivity(unchecked) private(set) var multiLevelWildcard: Node?
        @exclusivity(unchecked) private(set) var singleLevelWildcard: Node?
        /// Ordinary subscriptions ending at this level, by session.
        @exclusivity(unchecked) var subscribers: [ObjectIdentifier: Subscriber] = [:]
        /// Shared subscriptions ending at this level, by share name.
        @exclusivity(unchecked) var groups: [ExactString: SharedGroup] = [:]

        var isEmpty: Bool { children.isEmpty && subscribers.isEmpty && groups.isEmpty }
    }

    struct Subscriber {
        let session: Session
        var options: SubscriptionOptions
        var identifier: Int?
        /// The shared subscription this member belongs to; nil for an ordinary subscription.
        var share: TopicFilter? = nil
    }

    /// The members are kept in the order of their sessions' identities, the same in every replica whatever order
    /// the subscriptions reached it in, so that hashing a publisher picks the same member on every loop, and the
    /// replicas share one cursor, so that taking turns spans the loops.
    struct SharedGroup {
        var members: [Subscriber] = []
        let cursor: SharedGroupCursor
    }

    private let root = Node()
    private(set) var count = 0
    let sharedSubscriptionPolicy: BrokerConfiguration.SharedSubscriptionPolicy

    init(sharedSubscriptionPolicy: BrokerConfiguration.SharedSubscriptionPolicy = .roundRobin) {
        self.sharedSubscriptionPolicy = sharedSubscriptionPolicy
    }

    /// Adds or replaces the subscription of `subscriber.session` to `filter`; a shared group new to this replica
    /// takes `cursor`, which every replica's copy of the group must share.
    mutating func insert(_ filter: TopicFilter, _ subscriber: Subscriber, cursor: SharedGroupCursor? = nil) {
        var node = root
        for level in filter.filter.split(separator: "/", omittingEmptySubsequences: false) {
            let level = ExactSubstring(level)
            if let child = node.children[level] {
                node = child
            } else {
                let child = Node()
                node.children[level] = child
                node = child
            }
        }
        let key = ObjectIdentifier(subscriber.session)
        if let share = filter.shareName.map({ ExactString($0) }) {
            var group = node.groups[share] ?? SharedGroup(cursor: cursor ?? SharedGroupCursor())
            if let index = group.members.firstIndex(where: { $0.session === subscriber.session }) {
                group.members[index] = subscriber
            } else {
                let index = group.members.firstIndex { ObjectIdentifier($0.session) > key } ?? group.members.endIndex
                group.members.insert(subscriber, at: index)
                count += 1
            }
            node.groups[share] = group
        } else {
            if node.subscribers.updateValue(subscriber, forKey: key) == nil { count += 1 }
        }
    }

    /// Removes the subscription of `session` to `filter`; returns whether there was one.
    @discardableResult
    mutating func remove(_ filter: TopicFilter, session: Session) -> Bool {
        var path: [(Node, ExactSubstring)] = []
        var node = root
        for level in filter.filter.split(separator: "/", omittingEmptySubsequences: false) {
            let level = ExactSubstring(level)
            guard let child = node.children[level] else { return false }
            path.append((node, level))
            node = child
        }
        var removed = false
        if let share = filter.shareName.map({ ExactString($0) }) {
            if var group = node.groups[share], let index = group.members.firstIndex(where: { $0.session === session }) {
                group.members.remove(at: index)
                node.groups[share] = group.members.isEmpty ? nil : group
                removed = true
            }
        } else {
            removed = node.subscribers.removeValue(forKey: ObjectIdentifier(session)) != nil
        }
        if removed { count -= 1 }
        // Prune levels left empty so that churn does not grow the tree.
        var child = node
        while let (parent, level) = path.popLast(), child.isEmpty {
            parent.children[level] = nil
            child = parent
        }
        return removed
    }

    /// Appends every subscriber whose filter matches `topic` to `matches`; for each shared group one member is
    /// chosen by the policy, `publisher` being the client identifier of the message's publisher. Returns whether
    /// a session may be in `matches` more than once: false when they all come from one level's ordinary
    /// subscriptions, which hold one per session.
    @discardableResult
    func match(_ topic: String, publisher: String?, into matches: inout [Subscriber]) -> Bool {
        // MQTT-4.7.2-1: wildcards at the first level do not match topics beginning with "$".
        let dollar = topic.utf8.first == UInt8(ascii: "$")
        let pick = SharedPick(policy: sharedSubscriptionPolicy, publisher: publisher)
        var sources = 0
        Self.match(root, topic, from: topic.startIndex, isFirst: true, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        return sources > 1
    }

    /// A member of the shared subscription `share` chosen by the policy, other than `excluded`; with
    /// `connectedOnly`, only a member whose client is connected.
    func sharedMember(of share: TopicFilter, publisher: String?, excluding excluded: Session? = nil, connectedOnly: Bool = false) -> Subscriber? {
        guard let shareName = share.shareName else { return nil }
        var node = root
        for level in share.filter.split(separator: "/", omittingEmptySubsequences: false) {
            guard let child = node.children[ExactSubstring(level)] else { return nil }
            node = child
        }
        guard let group = node.groups[ExactString(shareName)] else { return nil }
        let pick = SharedPick(policy: sharedSubscriptionPolicy, publisher: publisher)
        guard let excluded else {
            let member = Self.choose(in: group, pick: pick)
            return connectedOnly && member?.session.isConnected.load(ordering: .relaxed) != true ? nil : member
        }
        var others = group
        others.members.removeAll { $0.session === excluded }
        let member = Self.choose(in: others, pick: pick)
        return connectedOnly && member?.session.isConnected.load(ordering: .relaxed) != true ? nil : member
    }

    /// How a group's member is chosen for one message: in turn, or by the publisher's hash.
    private struct SharedPick {
        var hash: Int?

        init(policy: BrokerConfiguration.SharedSubscriptionPolicy, publisher: String?) {
            switch policy {
            case .roundRobin: hash = nil
            case .hashByClient: hash = publisher.map { ExactString($0).hashValue }
            }
        }
    }

    /// The member the policy points at, or the next one after it whose client is connected: a member whose session
    /// waits offline gets a message only when no member is connected.
    private static func choose(in group: SharedGroup, pick: SharedPick) -> Subscriber? {
        let count = group.members.count
        guard count > 0 else { return nil }
        let position = pick.hash ?? group.cursor.advance()
        let start = Int(UInt(bitPattern: position) % UInt(count))
        for offset in 0..<count {
            let member = group.members[(start + offset) % count]
            if member.session.isConnected.load(ordering: .relaxed) { return member }
        }
        return group.members[start]
    }

    /// Walks the levels of `topic` from `start` (nil once every level is consumed) without splitting it.
    private static func match(
        _ node: Node, _ topic: String, from start: String.Index?, isFirst: Bool, dollar: Bool, pick: SharedPick,
        into matches: inout [Subscriber], sources: inout Int
    ) {
        let wildcardsAllowed = !(isFirst && dollar)
        if wildcardsAllowed, let hash = node.multiLevelWildcard {
            collect(hash, pick: pick, into: &matches, sources: &sources)
        }
        guard let start else {
            collect(node, pick: pick, into: &matches, sources: &sources)
            return
        }
        let end = topic.utf8[start...].firstIndex(of: UInt8(ascii: "/"))
        let level = topic[start..<(end ?? topic.endIndex)]
        let next = end.map { topic.utf8.index(after: $0) }
        if let exact = node.children[ExactSubstring(level)] {
            match(exact, topic, from: next, isFirst: false, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        }
        if wildcardsAllowed, let plus = node.singleLevelWildcard {
            match(plus, topic, from: next, isFirst: false, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        }
    }

    /// `sources` counts what may each hold a session once: a level's ordinary subscriptions count one, its shared
    /// groups two, since a session may be in several groups and among the ordinary subscribers too.
    private static func collect(_ node: Node, pick: SharedPick, into matches: inout [Subscriber], sources: inout Int) {
        if !node.subscribers.isEmpty {
            sources += 1
            for subscriber in node.subscribers.values { matches.append(subscriber) }
        }
        guard !node.groups.isEmpty else { return }
        sources += 2
        for group in node.groups.values {
            if let member = choose(in: group, pick: pick) { matches.append(member) }
        }
    }
}

/// The turn of a shared subscription's group, shared by the group's copies in every loop's replica.
final class SharedGroupCursor: Sendable {
    private let position = ManagedAtomic(0)

    /// The position of this message's turn.
    func advance() -> Int {
        position.loadThenWrappingIncrement(ordering: .relaxed)
    }
}
