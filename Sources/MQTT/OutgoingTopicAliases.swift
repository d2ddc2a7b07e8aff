/// The Topic Aliases a sender uses on one 5.0 Network Connection whose receiver announced a Topic Alias Maximum
/// (3.3.2.3.4): the broker towards a client, and the client towards the broker.
///
/// The first PUBLISH of a topic carries the topic and a new alias, later ones only the alias. When every alias
/// is taken, the least recently used one is given to the new topic, but only once that topic has missed
/// twice: a stream of topics seen once each would otherwise evict the hot ones and gain nothing, since a
/// reassigned alias costs the full topic again. Aliases stay within the receiver's maximum (MQTT-3.1.2-26,
/// MQTT-3.2.2-17, MQTT-3.3.2-11) and belong to the Network Connection (MQTT-3.3.2-7): a new connection starts
/// with none, so retransmissions after a reconnect establish them afresh.
///
/// Aliases are indexes into flat arrays that grow up to the capacity, so that a hit or a replacement, once the
/// table is full, allocates nothing. A class, so that a connection without aliases carries a nil pointer
/// rather than the table's fields.
public final class OutgoingTopicAliases {
    /// What to put in the next PUBLISH of a topic.
    public enum Resolution: Sendable, Equatable {
        /// The client knows the alias: send an empty topic and the alias.
        case known(UInt16)
        /// Send the topic and this alias, then `commit` it.
        case assign(UInt16)
        /// Send the topic alone.
        case topicOnly
    }

    /// The most aliases the table holds: the peer's Topic Alias Maximum.
    public let capacity: Int
    /// By the topic's bytes: a canonically equivalent topic is another topic and needs an alias of its own.
    private var aliases: [ExactString: UInt16] = [:]
    /// By alias; index 0 is unused, as alias 0 is not allowed (MQTT-3.3.2-8).
    private var topics: [String] = [""]
    /// The neighbours of each alias in recency order; 0 ends the list.
    private var older: [UInt16] = [0]
    private var newer: [UInt16] = [0]
    private var newest: UInt16 = 0
    private var oldest: UInt16 = 0
    /// Hashes of topics that missed while the table was full, by a slot the hash picks: a second miss admits.
    private var doorkeeper: [Int] = []

    /// An empty table for a peer whose Topic Alias Maximum is `capacity` (at least 1).
    public init(capacity: UInt16) {
        precondition(capacity > 0)
        self.capacity = Int(capacity)
    }

    /// How many aliases are assigned.
    public var count: Int { topics.count - 1 }

    /// Decides how `topic` goes out; a known alias becomes the most recently used.
    public func resolve(_ topic: String) -> Resolution {
        if let alias = aliases[ExactString(topic)] {
            touch(alias)
            return .known(alias)
        }
        if count < capacity { return .assign(UInt16(count + 1)) }
        if doorkeeper.isEmpty {
            var size = 1
            while size < capacity * 2 { size <<= 1 }
            doorkeeper = Array(repeating: 0, count: size)
        }
        let hash = ExactString(topic).hashValue
        let slot = hash & (doorkeeper.count - 1)
        if doorkeeper[slot] == hash {
            doorkeeper[slot] = 0
            return .assign(oldest)
        }
        doorkeeper[slot] = hash
        return .topicOnly
    }

    /// Records that `alias` now stands for `topic`, as `resolve` proposed and the PUBLISH announcing it was sent.
    public func commit(_ topic: String, alias: UInt16) {
        let index = Int(alias)
        if index == topics.count {
            topics.append(topic)
            older.append(0)
            newer.append(0)
        } else {
            aliases.removeValue(forKey: ExactString(topics[index]))
            unlink(alias)
            topics[index] = topic
        }
        aliases[ExactString(topic)] = alias
        linkAsNewest(alias)
    }

    private func touch(_ alias: UInt16) {
        guard alias != newest else { return }
        unlink(alias)
        linkAsNewest(alias)
    }

    private func unlink(_ alias: UInt16) {
        let before = older[Int(alias)]
        let after = newer[Int(alias)]
        if before != 0 { newer[Int(before)] = after } else { oldest = after }
        if after != 0 { older[Int(after)] = before } else { newest = before }
        older[Int(alias)] = 0
        newer[Int(alias)] = 0
    }

    private func linkAsNewest(_ alias: UInt16) {
        older[Int(alias)] = newest
        newer[Int(alias)] = 0
        if newest != 0 { newer[Int(newest)] = alias } else { oldest = alias }
        newest = alias
    }
}

extension OutgoingTopicAliases.Resolution {
    /// `packet` as it goes on the wire with this resolution: its topic, its alias, or both.
    public func apply(to packet: PublishPacket) -> PublishPacket {
        var packet = packet
        switch self {
        case .topicOnly:
            break
        case .assign(let alias):
            packet.properties.append(.topicAlias(alias))
        case .known(let alias):
            packet.properties.append(.topicAlias(alias))
            packet.topic = ""
        }
        return packet
    }
}
