import NIOCore

/// When a broker with a store acknowledges QoS 1 and 2 messages.
public enum Durability: Sendable, Hashable {
    /// PUBACK and PUBREC go out only once the message is committed for every persistent session it was routed to
    /// (and as retained message): a crash loses no acknowledged message. Batches commit back to back, so the cost
    /// is latency (one commit) rather than a transaction per message.
    case everyAck
    /// Acknowledgements go out at once and changes are committed every `interval`: a crash loses what was
    /// acknowledged within the last interval, and a QoS 2 message may then be delivered twice.
    case periodic(TimeAmount)
}
