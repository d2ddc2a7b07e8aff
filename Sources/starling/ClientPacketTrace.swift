import MQTT
import StarlingClient
import Synchronization

/// `pub -d` and `sub -d`: a line on standard output for every packet sent and received, in mosquitto_pub's and
/// mosquitto_sub's words (`Client ID sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))`), so that scripts and
/// people used to those traces read these the same way.
final class ClientPacketTrace: Sendable {
    /// The client identifier the lines name: the configured one, or the one a 5.0 broker assigns; "(null)" while
    /// it is empty, as mosquitto prints it.
    private let clientIdentifier: Mutex<String>

    init(clientIdentifier: String) {
        self.clientIdentifier = Mutex(clientIdentifier)
    }

    /// The observer to give `MQTTClientConfiguration.packetObserver`.
    var observer: @Sendable (MQTTClientConfiguration.PacketDirection, Packet) -> Void {
        { [self] direction, packet in
            for line in lines(direction, packet) { ClientStandardStreams.write(Array((line + "\n").utf8)) }
        }
    }

    func lines(_ direction: MQTTClientConfiguration.PacketDirection, _ packet: Packet) -> [String] {
        if case .connAck(let connAck) = packet, let assigned = connAck.properties.assignedClientIdentifier {
            clientIdentifier.withLock { $0 = assigned }
        }
        let name = clientIdentifier.withLock { $0.isEmpty ? "(null)" : $0 }
        let prefix = "Client \(name) \(direction == .sent ? "sending" : "received") "
        switch packet {
        case .connect: return [prefix + "CONNECT"]
        case .connAck(let connAck): return [prefix + "CONNACK (\(connAck.reasonCode.rawValue))"]
        case .publish(let publish):
            return [prefix + "PUBLISH (d\(publish.duplicate ? 1 : 0), q\(publish.qos.rawValue), r\(publish.retain ? 1 : 0), "
                + "m\(publish.packetIdentifier ?? 0), '\(publish.topic)', ... (\(publish.payload.readableBytes) bytes))"]
        case .pubAck(let ack): return [prefix + "PUBACK " + acknowledgement(ack, direction, withCode: true)]
        case .pubRec(let ack): return [prefix + "PUBREC " + acknowledgement(ack, direction, withCode: direction == .sent)]
        case .pubRel(let ack): return [prefix + "PUBREL " + acknowledgement(ack, direction, withCode: false)]
        case .pubComp(let ack): return [prefix + "PUBCOMP " + acknowledgement(ack, direction, withCode: direction == .received)]
        case .subscribe(let subscribe):
            return subscribe.subscriptions.map { subscription in
                let options = subscription.options
                let bits = (options.noLocal ? 0x04 : 0) | (options.retainAsPublished ? 0x08 : 0) | Int(options.retainHandling.rawValue) << 4
                return prefix + "SUBSCRIBE (Mid: \(subscribe.packetIdentifier), Topic: \(subscription.topicFilter), "
                    + "QoS: \(options.qos.rawValue), Options: 0x\(bits < 0x10 ? "0" : "")\(String(bits, radix: 16)))"
            }
        case .subAck(let subAck):
            // mosquitto_sub prints the granted QoS (or refusal code) of each filter once its SUBACK arrives.
            let granted = subAck.reasonCodes.map { String($0.rawValue) }.joined(separator: ", ")
            return [prefix + "SUBACK", "Subscribed (mid: \(subAck.packetIdentifier)): \(granted)"]
        case .unsubscribe(let unsubscribe):
            return unsubscribe.topicFilters.map { prefix + "UNSUBSCRIBE (Mid: \(unsubscribe.packetIdentifier), Topic: \($0))" }
        case .unsubAck: return [prefix + "UNSUBACK"]
        case .pingReq: return [prefix + "PINGREQ"]
        case .pingResp: return [prefix + "PINGRESP"]
        case .disconnect(let disconnect):
            return [prefix + (direction == .sent || disconnect.reasonCode == .success ? "DISCONNECT" : "DISCONNECT (\(disconnect.reasonCode.rawValue))")]
        case .auth(let auth): return [prefix + "AUTH (\(auth.reasonCode.rawValue))"]
        }
    }

    /// mosquitto's two shapes: `(m1, rc0)` for what it sends, `(Mid: 1, RC:0)` for what it receives.
    private func acknowledgement(_ ack: AcknowledgementPacket, _ direction: MQTTClientConfiguration.PacketDirection, withCode: Bool) -> String {
        switch (direction, withCode) {
        case (.sent, true): "(m\(ack.packetIdentifier), rc\(ack.reasonCode.rawValue))"
        case (.sent, false): "(m\(ack.packetIdentifier))"
        case (.received, true): "(Mid: \(ack.packetIdentifier), RC:\(ack.reasonCode.rawValue))"
        case (.received, false): "(Mid: \(ack.packetIdentifier))"
        }
    }
}
