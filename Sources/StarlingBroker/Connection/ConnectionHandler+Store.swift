import Logging
import MQTT
import NIOCore

/// Acknowledgements that wait for the store, and what a connection records there about its session.
extension ConnectionHandler {
    /// Sends `packet` once every change recorded so far on this loop is committed (with `Durability.everyAck`),
    /// and after any acknowledgement already waiting, so that acknowledgements keep their order (MQTT-4.6.0-2);
    /// while flow control slows the client, once it is relieved.
    func sendDurably(_ packet: Packet) {
        if pressure?.congestedSession != nil, withhold(packet) { return }
        guard let storeChanges = loop.storeChanges, storeChanges.holdsAcknowledgements else {
            send(packet)
            return
        }
        switch acknowledgements.admit(packet, ticket: storeChanges.currentTicket, committed: storeChanges.committedTicket) {
        case .pass:
            send(packet)
        case .held(let startsWaiting):
            if startsWaiting { storeChanges.wait(self) }
        }
    }

    /// The loop's changes up to `ticket` are committed, or failed to be: the acknowledgements waiting for them go.
    func releaseAcknowledgements(through ticket: UInt64, failed: Bool) {
        var refused = 0
        acknowledgements.release(through: ticket) { packet in
            guard failed, let refusal = refusal(of: packet) else {
                send(packet)
                return
            }
            refused += 1
            if version == .v5 { send(refusal) }
        }
        if refused > 0 {
            logger.warning("refused QoS 1/2 messages the store could not keep", metadata: ["count": "\(refused)"])
            if version != .v5 {
                // 3.1.1 has no negative acknowledgement: closing leaves the messages unacknowledged, to be sent again.
                close()
                return
            }
        }
        if !acknowledgements.isEmpty, let storeChanges = loop.storeChanges { storeChanges.wait(self) }
    }

    /// A publish the store could not keep is answered 0x97 Quota exceeded rather than acknowledged.
    private func refusal(of packet: Packet) -> Packet? {
        let reasonString: Properties = [.reasonString("the broker's storage could not keep the message")]
        switch packet {
        case .pubAck(let ack) where !ack.reasonCode.isFailure:
            return .pubAck(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier, reasonCode: .quotaExceeded, properties: reasonString))
        case .pubRec(let ack) where !ack.reasonCode.isFailure:
            // A PUBREC with a failure ends the flow (4.3.3): a PUBLISH sent again is a new message.
            session?.receivedQoS2.remove(ack.packetIdentifier)
            return .pubRec(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier, reasonCode: .quotaExceeded, properties: reasonString))
        default:
            return nil
        }
    }

    /// The session is stored while it outlives its connection (Session Expiry Interval above 0, or Clean Session 0).
    func recordAttached(_ session: Session) {
        guard let storeChanges = loop.storeChanges else { return }
        if session.expiryInterval > 0 {
            session.isStored.store(true, ordering: .relaxed)
            storeChanges.append(session.savedChange(disconnectedAt: nil))
            // Replaces the will of an earlier connection, which a reconnect cancelled (MQTT-3.1.3-9) or which went out.
            storeChanges.append(
                session.will.map { .willSaved(clientIdentifier: session.clientIdentifier, StoredWill($0, publishAt: nil)) }
                    ?? .willDeleted(clientIdentifier: session.clientIdentifier))
        } else if session.isStored.exchange(false, ordering: .relaxed) {
            storeChanges.append(.sessionDeleted(clientIdentifier: session.clientIdentifier))
        }
    }

    func recordSubscribed(_ filters: [TopicFilter], options: [SubscriptionOptions], identifier: Int?, session: Session) {
        guard let storeChanges = loop.storeChanges, session.isStored.load(ordering: .relaxed) else { return }
        for (filter, options) in zip(filters, options) {
            storeChanges.append(.subscriptionSaved(
                clientIdentifier: session.clientIdentifier,
                StoredSubscription(topicFilter: filter.rawValue, options: options, identifier: identifier)))
        }
    }

    func recordUnsubscribed(_ filters: [TopicFilter], session: Session) {
        guard let storeChanges = loop.storeChanges, session.isStored.load(ordering: .relaxed) else { return }
        for filter in filters {
            storeChanges.append(.subscriptionDeleted(clientIdentifier: session.clientIdentifier, topicFilter: filter.rawValue))
        }
    }

    /// A QoS 2 PUBLISH answered with PUBREC, or its PUBREL: a resent PUBLISH after a restart must be recognised.
    func recordReceivedQoS2(_ packetIdentifier: UInt16, released: Bool, session: Session) {
        guard let storeChanges = loop.storeChanges, session.isStored.load(ordering: .relaxed) else { return }
        storeChanges.append(
            released
                ? .qos2Released(clientIdentifier: session.clientIdentifier, packetIdentifier: packetIdentifier)
                : .qos2Received(clientIdentifier: session.clientIdentifier, packetIdentifier: packetIdentifier))
    }
}
