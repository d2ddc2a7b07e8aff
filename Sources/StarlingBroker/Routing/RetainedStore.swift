import MQTT
import NIOCore

/// The last retained message of every topic (section 3.3.1.3), with the topics also kept as a tree of levels so
/// that a wildcard subscription visits only the branches its filter can match, not every retained topic.
struct RetainedStore {
    /// By the topic's bytes: canonically equivalent topics are different topics (MQTT-4.7.3-4).
    private var messages: [ExactString: Message] = [:]
    private var root = Level()

    /// One topic level: the levels below it, and the topic that ends here if a message is retained for it.
    private struct Level {
        var children: [ExactSubstring: Level] = [:]
        var topic: String?

        var isEmpty: Bool { children.isEmpty && topic == nil }
    }

    var count: Int { messages.count }
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
        let key = ExactString(message.topic)
        let replaced = messages[key]?.payload.readableBytes
        guard replaced != nil || messages.count < limits.maximumRetainedMessages,
            bytes - (replaced ?? 0) + size <= limits.maximumRetainedBytes
        else { return false }
        messages[key] = message
        bytes += size - (replaced ?? 0)
        if replaced == nil {
            let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false)
            Self.insert(message.topic, levels: levels[...], into: &root)
        }
        return true
    }

    /// The retained messages whose topics match `filter`, in topic order, dropping those that have expired.
    mutating func matching(_ filter: TopicFilter, now: NIODeadline) -> [Message] {
        var topics: [String] = []
        if filter.hasWildcards {
            let levels = filter.filter.split(separator: "/", omittingEmptySubsequences: false)
            Self.collect(root, filter: levels[...], isFirst: true, into: &topics)
            topics.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } else if messages[ExactString(filter.filter)] != nil {
            topics.append(filter.filter)
        }
        var found: [Message] = []
        found.reserveCapacity(topics.count)
        for topic in topics {
            guard let message = messages[ExactString(topic)] else { continue }
            if message.isExpired(at: now) { remove(topic) } else { found.append(message) }
        }
        return found
    }

    private mutating func remove(_ topic: String) {
        guard let removed = messages.removeValue(forKey: ExactString(topic)) else { return }
        bytes -= removed.payload.readableBytes
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        Self.remove(levels: levels[...], from: &root)
    }

    private static func insert(_ topic: String, levels: ArraySlice<Substring>, into level: inout Level) {
        guard let name = levels.first else {
            level.topic = topic
            return
        }
        insert(topic, levels: levels.dropFirst(), into: &level.children[ExactSubstring(name), default: Level()])
    }

    /// Removes the topic ending at `levels` and prunes the levels it leaves empty.
    private static func remove(levels: ArraySlice<Substring>, from level: inout Level) {
        guard let first = levels.first else {
            level.topic = nil
            return
        }
        let name = ExactSubstring(first)
        guard level.children[name] != nil else { return }
        remove(levels: levels.dropFirst(), from: &level.children[name]!)
        if level.children[name]!.isEmpty { level.children.removeValue(forKey: name) }
    }

    private static func collect(_ level: Level, filter: ArraySlice<Substring>, isFirst: Bool, into topics: inout [String]) {
        guard let name = filter.first else {
            if let topic = level.topic { topics.append(topic) }
            return
        }
        switch ExactSubstring(name) {
        case "#":
            // "#" matches the parent level too (MQTT-4.7.1-2), and every level below it.
            if let topic = level.topic { topics.append(topic) }
            for (child, below) in level.children where !(isFirst && child.substring.utf8.first == UInt8(ascii: "$")) {
                collectAll(below, into: &topics)
            }
        case "+":
            // MQTT-4.7.2-1: a wildcard at the first level does not match topics beginning with "$".
            for (child, below) in level.children where !(isFirst && child.substring.utf8.first == UInt8(ascii: "$")) {
                collect(below, filter: filter.dropFirst(), isFirst: false, into: &topics)
            }
        case let exact:
            if let below = level.children[exact] {
                collect(below, filter: filter.dropFirst(), isFirst: false, into: &topics)
            }
        }
    }

    private static func collectAll(_ level: Level, into topics: inout [String]) {
        if let topic = level.topic { topics.append(topic) }
        for below in level.children.values { collectAll(below, into: &topics) }
    }
}
