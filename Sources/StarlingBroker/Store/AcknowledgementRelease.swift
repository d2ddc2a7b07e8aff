import Logging
import MQTT

/// Acknowledgements a connection held for the store (`AcknowledgementGate`) going out once the store has
/// committed, or failed to commit, what they acknowledge.
enum AcknowledgementRelease {
    /// The loop's changes up to `ticket` are committed, or failed to be: the acknowledgements waiting for them go.
    static func release(through ticket: UInt64, failed: Bool, on connection: ConnectionHandler) {
        var refused = 0
        let version = connection.version
        connection.acknowledgements.release(through: ticket) { packet in
            guard failed, let refusal = refusal(of: packet, session: connection.session) else {
                connection.send(packet)
                return
            }
            refused += 1
            if version == .v5 { connection.send(refusal) }
        }
        if refused > 0 {
            connection.logger.warning("refused QoS 1/2 messages the store could not keep", metadata: ["count": "\(refused)"])
            if version != .v5 {
                // 3.1.1 has no negative acknowledgement: closing leaves the messages unacknowledged, to be sent again.
                connection.close()
                return
            }
        }
        if !connection.acknowledgements.isEmpty, let storeChanges = connection.loop.storeChanges { storeChanges.wait(connection) }
    }

    /// A publish the store could not keep is answered 0x97 Quota exceeded rather than acknowledged.
    private static func refusal(of packet: Packet, session: Session?) -> Packet? {
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
