import MQTT
import NIOCore

/// The last retained message of every topic (section 3.3.1.3), as a tree of topic levels, so that a wildcard
/// subscription visits only the branches its filter can match, not every retained topic.
///
/// What its retained messages cost is most of what such a broker holds, so a topic costs one entry (24 bytes) in
/// its parent level's table and one `RetainedMessage` allocation, the payload's bytes within it; the topic's
/// text is not kept but rebuilt from the levels. A level is an object of its own only where a topic has topics
/// below it.
// Sendable proof: the levels are classes mutated only by this store's mutating methods, and no level or
// `RetainedMessage` leaves the store (`matching` hands out `Message` values). The broker keeps its store in a
// `NIOLockedValueBox` and touches it only under that lock, so no two threads ever reach the same level at once.
struct RetainedStore: @unchecked Sendable {
    /// One topic level that has levels below it: those levels by their bytes (canonically equivalent levels are
    /// different levels, MQTT-4.7.3-4), and the retained message of the topic ending here, if any.
    private final class Level {
        var children: [ExactString: Child] = [:]
        var message: RetainedMessage?

        init(message: RetainedMessage? = nil) {
            self.message = message
        }

        var isEmpty: Bool { children.isEmpty && message == nil }
    }

    /// What a level's table holds for one name: the topic's message alone when nothing is retained below it (8
    /// bytes either way: both are references).
    private enum Child {
        case message(RetainedMessage)
        case level(Level)

        var message: RetainedMessage? {
            switch self {
            case .message(let message): message
            case .level(let level): level.message
            }
        }
    }

    /// The bytes of one entry in a level's table, for `StateFootprintTests`.
    static var entryStride: Int { MemoryLayout<ExactString>.stride + MemoryLayout<Child>.stride }

    private var root = Level()
    private(set) var count = 0
    /// Payload bytes of every retained message.
    private(set) var bytes = 0

    /// Stores `message` as the retained message of its topic; an empty payload deletes it (MQTT-3.3.1-6, -7).
    /// Returns false when the limits leave no room for it, and the store is unchanged.
    @discardableResult
    mutating func retain(_ message: Message, limits: BrokerConfiguration.Limits = .init()) -> Bool {
        let size = message.payload.readableBytes
        guard size > 0 else {
            remove(message.topic)
            return true
        }
        let replaced = existing(message.topic)?.payloadCount
        guard replaced != nil || count < limits.maximumRetainedMessages,
            bytes - (replaced ?? 0) + size <= limits.maximumRetainedBytes
        else { return false }
        let entry = RetainedMessage.make(message)
        var level = root
        var names = message.topic.split(separator: "/", omittingEmptySubsequences: false)[...]
        let last = ExactString(String(names.removeLast()))
        for name in names {
            let key = ExactString(String(name))
            switch level.children[key] {
            case .level(let below)?:
                level = below
            case .message(let above)?:
                let below = Level(message: above)
                level.children[key] = .level(below)
                level = below
            case nil:
                let below = Level()
                level.children[key] = .level(below)
                level = below
            }
        }
        if case .level(let below)? = level.children[last] {
            below.message = entry
        } else {
            level.children[last] = .message(entry)
        }
        if replaced == nil { count += 1 }
        bytes += size - (replaced ?? 0)
        return true
    }

    /// The retained messages whose topics match `filter`, in topic order, dropping those that have expired.
    mutating func matching(_ filter: TopicFilter, now: NIODeadline) -> [Message] {
        var found: [(topic: String, message: RetainedMessage)] = []
        if filter.hasWildcards {
            let names = filter.filter.split(separator: "/", omittingEmptySubsequences: false)
            Self.collect(root, topic: nil, filter: names[...], into: &found)
            found.sort { $0.topic.utf8.lexicographicallyPrecedes($1.topic.utf8) }
        } else if let message = existing(filter.filter) {
            found.append((filter.filter, message))
        }
        var messages: [Message] = []
        messages.reserveCapacity(found.count)
        for (topic, message) in found {
            if message.isExpired(at: now) { remove(topic) } else { messages.append(message.message(topic: topic)) }
        }
        return messages
    }

    /// The retained message of `topic`, if any.
    private func existing(_ topic: String) -> RetainedMessage? {
        var level = root
        var names = topic.split(separator: "/", omittingEmptySubsequences: false)[...]
        let last = ExactString(String(names.removeLast()))
        for name in names {
            guard case .level(let below)? = level.children[ExactString(String(name))] else { return nil }
            level = below
        }
        return level.children[last]?.message
    }

    private mutating func remove(_ topic: String) {
        var path: [(level: Level, key: ExactString)] = []
        var level = root
        var names = topic.split(separator: "/", omittingEmptySubsequences: false)[...]
        let last = ExactString(String(names.removeLast()))
        for name in names {
            let key = ExactString(String(name))
            guard case .level(let below)? = level.children[key] else { return }
            path.append((level, key))
            level = below
        }
        let removed: RetainedMessage
        switch level.children[last] {
        case .message(let message)?:
            removed = message
            level.children[last] = nil
        case .level(let below)?:
            guard let message = below.message else { return }
            removed = message
            below.message = nil
            // A level left with one kind of content is kept in the lighter form.
            if below.children.isEmpty { level.children[last] = nil }
        case nil:
            return
        }
        count -= 1
        bytes -= removed.payloadCount
        // Prune the levels left empty, and turn one left holding only its message back into the message alone,
        // so that churn does not grow the tree.
        var child = level
        while let (parent, key) = path.popLast() {
            if child.isEmpty {
                parent.children[key] = nil
            } else if child.children.isEmpty, let message = child.message {
                parent.children[key] = .message(message)
            } else {
                break
            }
            child = parent
        }
    }

    private static func topic(_ parent: String?, _ name: ExactString) -> String {
        parent.map { $0 + "/" + name.string } ?? name.string
    }

    /// Appends the messages below `level` that `filter` (the rest of a filter's levels) matches; `topic` is the
    /// topic of `level`, nil at the root.
    private static func collect(
        _ level: Level, topic: String?, filter: ArraySlice<Substring>, into found: inout [(topic: String, message: RetainedMessage)]
    ) {
        guard let name = filter.first else {
            if let topic, let message = level.message { found.append((topic, message)) }
            return
        }
        let isFirst = topic == nil
        switch name {
        case "#":
            // "#" matches the parent level too (MQTT-4.7.1-2), and every level below it.
            if let topic, let message = level.message { found.append((topic, message)) }
            for (key, child) in level.children where !(isFirst && key.string.utf8.first == UInt8(ascii: "$")) {
                collectAll(child, topic: Self.topic(topic, key), into: &found)
            }
        case "+":
            // MQTT-4.7.2-1: a wildcard at the first level does not match topics beginning with "$".
            for (key, child) in level.children where !(isFirst && key.string.utf8.first == UInt8(ascii: "$")) {
                collect(child, topic: Self.topic(topic, key), filter: filter.dropFirst(), into: &found)
            }
        default:
            let key = ExactString(String(name))
            if let child = level.children[key] {
                collect(child, topic: Self.topic(topic, key), filter: filter.dropFirst(), into: &found)
            }
        }
    }

    private static func collect(
        _ child: Child, topic: String, filter: ArraySlice<Substring>, into found: inout [(topic: String, message: RetainedMessage)]
    ) {
        switch child {
        case .message(let message):
            // No level below: only a filter that ends here, or goes on with "#" alone, matches it.
            if filter.isEmpty || (filter.count == 1 && filter.first == "#") { found.append((topic, message)) }
        case .level(let level):
            collect(level, topic: topic, filter: filter, into: &found)
        }
    }

    private static func collectAll(_ child: Child, topic: String, into found: inout [(topic: String, message: RetainedMessage)]) {
        switch child {
        case .message(let message):
            found.append((topic, message))
        case .level(let level):
            if let message = level.message { found.append((topic, message)) }
            for (key, below) in level.children { collectAll(below, topic: Self.topic(topic, key), into: &found) }
        }
    }
}
