import Logging
import MQTT
import NIOCore

/// Acknowledgements that wait for the store to commit what they acknowledge (see `AcknowledgementGate`).
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
}
