/// The Topic Aliases a receiver has been told on one 5.0 Network Connection (3.3.2.3.4): the broker for a
/// client's PUBLISH packets, and the client for the broker's.
///
/// A PUBLISH with a topic and an alias sets the alias; one with an empty topic and an alias uses it. Aliases
/// belong to the Network Connection (MQTT-3.3.2-7), so a new connection starts with none. The maximum the
/// receiver announced is given to each call rather than kept, so that the table is one pointer wide.
public struct IncomingTopicAliases: Sendable {
    /// Why a PUBLISH's alias cannot be used.
    public enum Failure: Error, Sendable, Equatable {
        /// 0, or above the Topic Alias Maximum the receiver announced (MQTT-3.3.2-8, -9): Topic Alias invalid.
        case outOfRange(UInt16)
        /// An empty topic with an alias never set on this connection: a Protocol Error.
        case unknown(UInt16)

        /// The reason code a DISCONNECT gives for it.
        public var reasonCode: ReasonCode {
            switch self {
            case .outOfRange: .topicAliasInvalid
            case .unknown: .protocolError
            }
        }
    }

    private var topics: [UInt16: String] = [:]

    public init() {}

    /// The topic of a PUBLISH that carries `alias`, recording the alias when the PUBLISH sets it.
    public mutating func resolve(topic: String, alias: UInt16, maximum: UInt16) -> Result<String, Failure> {
        guard alias != 0, alias <= maximum else { return .failure(.outOfRange(alias)) }
        guard topic.isEmpty else {
            topics[alias] = topic
            return .success(topic)
        }
        guard let known = topics[alias] else { return .failure(.unknown(alias)) }
        return .success(known)
    }
}
