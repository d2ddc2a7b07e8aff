import Atomics
import MQTT

/// The subscriptions of every session, for matching topic names to subscribers.
///
/// Filters without wildcards, most of them, are kept in one hash table by the filter's bytes: a topic name finds
/// them with one lookup, and each costs a table entry rather than a node per level. Filters with wildcards are
/// kept as a tree of levels, with the `+` and `#` children of a level in fields of their own.
///
/// Each event loop holds its own replica, so the publish path reads it without any lock; changes are applied
/// to every replica before SUBACK / UNSUBACK is sent.
struct TopicTree {
    /// One level of the tree of wildcard filters.
    ///
    /// Every access to a node's properties is a single read or a single replacement, on the loop that owns the
    /// replica: no two accesses can overlap, so the run-time exclusivity checks, which cost the publish path more
    /// than the matching itself, are left out.
    final class Node {
        /// By the level's bytes: canonically equivalent levels are different levels (MQTT-4.7.3-4). Neither `+`
        /// nor `#`, which are looked for at every level of every topic routed: a nil check each instead of hashing.
        @exclusivity(unchecked) var children: [ExactSubstring: Node] = [:]
        @exclusivity(unchecked) var singleLevelWildcard: Node?
        @exclusivity(unchecked) var multiLevelWildcard: Node?
        /// The subscriptions whose filter ends at this level.
        @exclusivity(unchecked) var subscribers = FilterSubscribers()

        var isEmpty: Bool {
            children.isEmpty && singleLevelWildcard == nil && multiLevelWildcard == nil && subscribers.isEmpty
        }

        /// The child for a filter's `level`, wildcards included, if there is one.
        func child(_ level: Substring) -> Node? {
            switch level {
            case "+": singleLevelWildcard
            case "#": multiLevelWildcard
            default: children[ExactSubstring(level)]
            }
        }
    }

    /// A subscription matched by a topic, as routing reads it.
    /// The options stay packed: a delivery reads two or three of them, and unpacking the rest for every match
    /// would cost the publish path more than the lookup saves.
    struct Subscriber {
        let session: Session
        var subscription: PackedSubscription
        /// The shared subscription this member belongs to; nil for an ordinary subscription.
        var share: TopicFilter? = nil

        init(session: Session, options: SubscriptionOptions, identifier: Int? = nil, share: TopicFilter? = nil) {
            self.session = session
            self.subscription = PackedSubscription(options: options, identifier: identifier)
            self.share = share
        }

        init(_ entry: FilterSubscribers.Entry, share: TopicFilter? = nil) {
            self.session = entry.session
            self.subscription = entry.subscription
            self.share = share
        }

        var options: SubscriptionOptions {
            get { subscription.options }
            set { subscription = PackedSubscription(options: newValue, identifier: subscription.identifier) }
        }

        var identifier: Int? { subscription.identifier }
    }

    /// Wildcard-free filters by their bytes (without a share prefix).
    private var exact: [ExactString: FilterSubscribers] = [:]
    private let root = Node()
    private(set) var count = 0
    let sharedSubscriptionPolicy: BrokerConfiguration.SharedSubscriptionPolicy

    init(sharedSubscriptionPolicy: BrokerConfiguration.SharedSubscriptionPolicy = .roundRobin) {
        self.sharedSubscriptionPolicy = sharedSubscriptionPolicy
    }

    /// How many distinct wildcard-free filters have a subscription.
    var exactFilterCount: Int { exact.count }
    /// Whether the tree holds nothing at all: no filter's entry, no level of the wildcard tree.
    var isEmpty: Bool { exact.isEmpty && root.isEmpty }

    /// Adds or replaces the subscription of `subscriber.session` to `filter`; a shared group new to this replica
    /// takes `cursor`, which every replica's copy of the group must share. `subscriber.share` is not read: the
    /// filter says whether the subscription is shared.
    mutating func insert(_ filter: TopicFilter, _ subscriber: Subscriber, cursor: SharedGroupCursor? = nil) {
        let entry = FilterSubscribers.Entry(session: subscriber.session, subscription: subscriber.subscription)
        let new: Bool
        if filter.hasWildcards {
            let node = Self.node(for: filter.filter, from: root)
            new = filter.isShared ? node.subscribers.insert(entry, share: filter, cursor: cursor) : node.subscribers.insert(entry)
        } else {
            let key = ExactString(filter.filter)
            new = filter.isShared
                ? exact[key, default: FilterSubscribers()].insert(entry, share: filter, cursor: cursor)
                : exact[key, default: FilterSubscribers()].insert(entry)
        }
        if new { count += 1 }
    }

    /// Removes the subscription of `session` to `filter`; returns whether there was one.
    @discardableResult
    mutating func remove(_ filter: TopicFilter, session: Session) -> Bool {
        let removed: Bool
        if filter.hasWildcards {
            removed = Self.remove(filter, session: session, from: root)
        } else {
            let key = ExactString(filter.filter)
            guard var subscribers = exact[key] else { return false }
            removed = filter.shareName.map { subscribers.remove(session, shareName: $0) } ?? subscribers.remove(session)
            // Dropped from the table with its last subscription, so that churn does not grow it.
            exact[key] = subscribers.isEmpty ? nil : subscribers
        }
        if removed { count -= 1 }
        return removed
    }

    /// The node where `filter` ends, made along with the levels above it when missing.
    private static func node(for filter: String, from root: Node) -> Node {
        var node = root
        for level in filter.split(separator: "/", omittingEmptySubsequences: false) {
            switch level {
            case "+":
                if node.singleLevelWildcard == nil { node.singleLevelWildcard = Node() }
                node = node.singleLevelWildcard!
            case "#":
                if node.multiLevelWildcard == nil { node.multiLevelWildcard = Node() }
                node = node.multiLevelWildcard!
            default:
                if let child = node.children[ExactSubstring(level)] {
                    node = child
                } else {
                    let child = Node()
                    // A copy of the level alone, so that the key does not keep the whole filter's text alive.
                    node.children[ExactSubstring(Substring(String(level)))] = child
                    node = child
                }
            }
        }
        return node
    }

    /// The node where `filter` ends, if the tree has it.
    private static func existingNode(for filter: String, from root: Node) -> Node? {
        var node = root
        for level in filter.split(separator: "/", omittingEmptySubsequences: false) {
            guard let next = node.child(level) else { return nil }
            node = next
        }
        return node
    }

    private static func remove(_ filter: TopicFilter, session: Session, from root: Node) -> Bool {
        var path: [(parent: Node, level: Substring)] = []
        var node = root
        for level in filter.filter.split(separator: "/", omittingEmptySubsequences: false) {
            guard let next = node.child(level) else { return false }
            path.append((node, level))
            node = next
        }
        let removed = filter.shareName.map { node.subscribers.remove(session, shareName: $0) } ?? node.subscribers.remove(session)
        // Prune levels left empty so that churn does not grow the tree.
        var child = node
        while child.isEmpty, let (parent, level) = path.popLast() {
            switch level {
            case "+": parent.singleLevelWildcard = nil
            case "#": parent.multiLevelWildcard = nil
            default: parent.children[ExactSubstring(level)] = nil
            }
            child = parent
        }
        return removed
    }

    /// Appends every subscriber whose filter matches `topic` to `matches`; for each shared group one member is
    /// chosen by the policy, `publisher` being the client identifier of the message's publisher. Returns whether
    /// a session may be in `matches` more than once: false when they all come from one filter's ordinary
    /// subscriptions, which hold one per session.
    @discardableResult
    func match(_ topic: String, publisher: String?, into matches: inout [Subscriber]) -> Bool {
        let pick = SharedPick(policy: sharedSubscriptionPolicy, publisher: publisher)
        var sources = 0
        if !exact.isEmpty, let subscribers = exact[ExactString(topic)] {
            Self.collect(subscribers, pick: pick, into: &matches, sources: &sources)
        }
        if !root.isEmpty {
            // MQTT-4.7.2-1: wildcards at the first level do not match topics beginning with "$".
            let dollar = topic.utf8.first == UInt8(ascii: "$")
            Self.match(root, topic, from: topic.startIndex, isFirst: true, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        }
        return sources > 1
    }

    /// A member of the shared subscription `share` chosen by the policy, other than `excluded`; with
    /// `connectedOnly`, only a member whose client is connected.
    func sharedMember(of share: TopicFilter, publisher: String?, excluding excluded: Session? = nil, connectedOnly: Bool = false) -> Subscriber? {
        guard let shareName = share.shareName else { return nil }
        let subscribers = share.hasWildcards
            ? Self.existingNode(for: share.filter, from: root)?.subscribers : exact[ExactString(share.filter)]
        guard let group = subscribers?.group(named: shareName) else { return nil }
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
    private static func choose(in group: FilterSubscribers.SharedGroup, pick: SharedPick) -> Subscriber? {
        let count = group.members.count
        guard count > 0 else { return nil }
        let position = pick.hash ?? group.cursor.advance()
        let start = Int(UInt(bitPattern: position) % UInt(count))
        for offset in 0..<count {
            let member = group.members[(start + offset) % count]
            if member.session.isConnected.load(ordering: .relaxed) { return Subscriber(member, share: group.share) }
        }
        return Subscriber(group.members[start], share: group.share)
    }

    /// Walks the levels of `topic` from `start` (nil once every level is consumed) without splitting it.
    private static func match(
        _ node: Node, _ topic: String, from start: String.Index?, isFirst: Bool, dollar: Bool, pick: SharedPick,
        into matches: inout [Subscriber], sources: inout Int
    ) {
        let wildcardsAllowed = !(isFirst && dollar)
        if wildcardsAllowed, let hash = node.multiLevelWildcard {
            collect(hash.subscribers, pick: pick, into: &matches, sources: &sources)
        }
        guard let start else {
            collect(node.subscribers, pick: pick, into: &matches, sources: &sources)
            return
        }
        let end = topic.utf8[start...].firstIndex(of: UInt8(ascii: "/"))
        let next = end.map { topic.utf8.index(after: $0) }
        if !node.children.isEmpty, let exact = node.children[ExactSubstring(topic[start..<(end ?? topic.endIndex)])] {
            match(exact, topic, from: next, isFirst: false, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        }
        if wildcardsAllowed, let plus = node.singleLevelWildcard {
            match(plus, topic, from: next, isFirst: false, dollar: dollar, pick: pick, into: &matches, sources: &sources)
        }
    }

    /// `sources` counts what may each hold a session once: a filter's ordinary subscriptions count one, its shared
    /// groups two, since a session may be in several groups and among the ordinary subscribers too.
    private static func collect(_ subscribers: FilterSubscribers, pick: SharedPick, into matches: inout [Subscriber], sources: inout Int) {
        if let first = subscribers.first {
            sources += 1
            matches.append(Subscriber(first))
            if let rest = subscribers.rest {
                for entry in rest.entries { matches.append(Subscriber(entry)) }
            }
        }
        guard let rest = subscribers.rest, !rest.groups.isEmpty else { return }
        sources += 2
        for group in rest.groups.values {
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
