import NIOCore

/// The client side of the session state (section 4.1): what must outlive a connection for QoS 1 and 2 and
/// subscriptions to survive a reconnect.
struct ClientSession {
    /// A QoS 1 or 2 publish the broker has not fully acknowledged.
    struct OutgoingPublish {
        enum Stage {
            case awaitingPubAck
            case awaitingPubRec
            /// PUBREL sent; the result is PUBREC's.
            case awaitingPubComp(PublishResult)
        }

        /// The packet with its full topic name (aliases belong to a connection, not to the session).
        var packet: PublishPacket
        var stage: Stage
        /// Nil once the caller stopped waiting (cancelled); the flow still completes.
        var promise: EventLoopPromise<PublishResult>?
        let sequence: UInt64
        /// Its key in `MQTTClientConfiguration.outgoingStore`, until the broker has it.
        var storeKey: UInt64?
    }

    /// A subscription the broker holds, or will hold once the SUBSCRIBE in flight is answered.
    struct SubscriptionRecord {
        var options: SubscriptionOptions
        /// The live subscription it was made for, whose number is also its Subscription Identifier.
        var owner: Int
        /// Whether the SUBSCRIBE carried `owner` as Subscription Identifier, so messages name it.
        var identifierSent: Bool
    }

    var packetIdentifiers = PacketIdentifierPool()
    private(set) var outgoing: [UInt16: OutgoingPublish] = [:]
    /// QoS 2 messages received and delivered, whose PUBREL has not arrived: a resent PUBLISH with one of these
    /// identifiers is a duplicate (method B of 4.3.3).
    var incomingQoS2: Set<UInt16> = []
    /// With `acknowledgesManually`: QoS 2 messages delivered whose PUBREC waits for the application.
    var unacknowledgedQoS2: Set<UInt16> = []
    var subscriptions: [String: SubscriptionRecord] = [:]
    private var nextSequence: UInt64 = 0

    var outgoingCount: Int { outgoing.count }

    /// Starts the flow of `packet`, giving it a packet identifier; nil when every identifier is in use.
    mutating func startOutgoing(
        _ packet: PublishPacket, promise: EventLoopPromise<PublishResult>?, storeKey: UInt64? = nil
    ) -> PublishPacket? {
        guard let identifier = packetIdentifiers.allocate() else { return nil }
        var packet = packet
        packet.packetIdentifier = identifier
        nextSequence += 1
        let stage: OutgoingPublish.Stage = packet.qos == .exactlyOnce ? .awaitingPubRec : .awaitingPubAck
        outgoing[identifier] = OutgoingPublish(
            packet: packet, stage: stage, promise: promise, sequence: nextSequence, storeKey: storeKey)
        return packet
    }

    subscript(outgoing identifier: UInt16) -> OutgoingPublish? {
        get { outgoing[identifier] }
        set { outgoing[identifier] = newValue }
    }

    /// Ends the flow of `identifier` and frees the identifier.
    mutating func finishOutgoing(_ identifier: UInt16) -> OutgoingPublish? {
        guard let flow = outgoing.removeValue(forKey: identifier) else { return nil }
        packetIdentifiers.release(identifier)
        return flow
    }

    /// The unfinished flows in the order they started, which is the order they must be resent in (4.6).
    var outgoingInOrder: [OutgoingPublish] {
        outgoing.values.sorted { $0.sequence < $1.sequence }
    }

    /// Detaches the caller waiting on the flow that `future` belongs to; the flow itself carries on.
    mutating func detachOutgoing(waitingOn future: ObjectIdentifier) -> EventLoopPromise<PublishResult>? {
        guard let (identifier, flow) = outgoing.first(where: { $0.value.promise.map { ObjectIdentifier($0.futureResult) } == future })
        else { return nil }
        outgoing[identifier]?.promise = nil
        return flow.promise
    }
}
