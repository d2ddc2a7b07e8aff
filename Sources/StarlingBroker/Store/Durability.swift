import NIOCore

/// When a broker with a store acknowledges QoS 1 and 2 messages.
public enum Durability: Sendable, Hashable {
    /// PUBACK and PUBREC go out only once the message is committed for every persistent session it was routed to
    /// (and as retained message): a crash loses no acknowledged message. Batches commit back to back, so the cost
    /// is latency (one commit) rather than a transaction per message. When a commit fails, the acknowledgements
    /// waiting for it become 0x97 Quota exceeded for a 5.0 client, and a 3.1.1 client is disconnected without
    /// them, so that it sends the messages again. The default.
    case everyAck
    /// Acknowledgements go out at once, and the writer waits the given interval after each commit before the
    /// next: a crash loses what was acknowledged since the last commit (about one interval's worth), and a QoS 2
    /// message may then be delivered twice. A failed commit is only logged.
    case periodic(TimeAmount)
}
