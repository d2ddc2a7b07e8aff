/// The topic aliases this client has set up on one connection (3.3.2.3.4): aliases are given to the first
/// topics published, up to the broker's Topic Alias Maximum, and then stand for them.
struct OutgoingTopicAliases {
    enum Use {
        /// Send the topic name in full.
        case none
        /// Send the topic name and the alias, which sets the alias up.
        case establish(UInt16)
        /// Send an empty topic name and the alias.
        case reuse(UInt16)
    }

    let maximum: UInt16
    private var aliases: [String: UInt16] = [:]

    init(maximum: UInt16) {
        self.maximum = maximum
    }

    func use(for topic: String) -> Use {
        if let alias = aliases[topic] { return .reuse(alias) }
        guard aliases.count < Int(maximum) else { return .none }
        return .establish(UInt16(aliases.count + 1))
    }

    mutating func commit(_ use: Use, topic: String) {
        if case .establish(let alias) = use { aliases[topic] = alias }
    }

    /// The packet as it goes on the wire with `use` applied.
    static func apply(_ use: Use, to packet: PublishPacket) -> PublishPacket {
        var packet = packet
        switch use {
        case .none:
            break
        case .establish(let alias):
            packet.properties.append(.topicAlias(alias))
        case .reuse(let alias):
            packet.properties.append(.topicAlias(alias))
            packet.topic = ""
        }
        return packet
    }
}
