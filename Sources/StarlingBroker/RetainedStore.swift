import MQTT
import NIOCore

/// The last retained message of every topic (section 3.3.1.3).
struct RetainedStore {
    private var messages: [String: Message] = [:]

    var count: Int { messages.count }

    /// Stores `message` as the retained message of its topic; an empty payload deletes it (MQTT-3.3.1-6, -7).
    mutating func retain(_ message: Message) {
        if message.payload.readableBytes == 0 {
            messages.removeValue(forKey: message.topic)
        } else {
            messages[message.topic] = message
        }
    }

    /// The retained messages whose topics match `filter`, dropping those that have expired.
    mutating func matching(_ filter: TopicFilter, now: NIODeadline) -> [Message] {
        if !filter.hasWildcards {
            guard let message = messages[filter.filter] else { return [] }
            if message.isExpired(at: now) {
                messages.removeValue(forKey: filter.filter)
                return []
            }
            return [message]
        }
        var found: [Message] = []
        var expired: [String] = []
        for (topic, message) in messages where TopicFilter.matches(filter: filter.filter, topic: topic) {
            if message.isExpired(at: now) { expired.append(topic) } else { found.append(message) }
        }
        for topic in expired { messages.removeValue(forKey: topic) }
        return found.sorted { $0.topic < $1.topic }
    }
}
