import MQTT

/// The Reason String and User Properties of the packets the broker answers with, which a 5.0 client may have
/// asked not to get (MQTT-3.1.2-29) and which must never make a packet exceed its Maximum Packet Size.
extension Packet {
    /// Whether this packet may carry diagnostics when the client set Request Problem Information to 0.
    var diagnosticsAlwaysAllowed: Bool {
        switch self {
        case .connAck, .disconnect, .publish: true
        default: false
        }
    }

    /// The properties of a response packet; nil for the packets that carry none or whose properties are not the
    /// broker's to drop (PUBLISH forwards the publisher's).
    var responseProperties: Properties? {
        get {
            switch self {
            case .connAck(let packet): packet.properties
            case .pubAck(let packet), .pubRec(let packet), .pubRel(let packet), .pubComp(let packet): packet.properties
            case .subAck(let packet): packet.properties
            case .unsubAck(let packet): packet.properties
            case .disconnect(let packet): packet.properties
            case .auth(let packet): packet.properties
            default: nil
            }
        }
        set {
            guard let newValue else { return }
            switch self {
            case .connAck(var packet):
                packet.properties = newValue
                self = .connAck(packet)
            case .pubAck(var packet):
                packet.properties = newValue
                self = .pubAck(packet)
            case .pubRec(var packet):
                packet.properties = newValue
                self = .pubRec(packet)
            case .pubRel(var packet):
                packet.properties = newValue
                self = .pubRel(packet)
            case .pubComp(var packet):
                packet.properties = newValue
                self = .pubComp(packet)
            case .subAck(var packet):
                packet.properties = newValue
                self = .subAck(packet)
            case .unsubAck(var packet):
                packet.properties = newValue
                self = .unsubAck(packet)
            case .disconnect(var packet):
                packet.properties = newValue
                self = .disconnect(packet)
            case .auth(var packet):
                packet.properties = newValue
                self = .auth(packet)
            default:
                break
            }
        }
    }

    /// Drops the diagnostics the client does not want, then, while the packet is larger than `maximumSize`, the
    /// Reason String and then the User Properties (MQTT-3.1.2-25, -29; MQTT-3.2.2-19, -20; MQTT-3.4.2-2, -3;
    /// MQTT-3.9.2-1, -2; MQTT-3.14.2-3, -4 and their peers for the other acknowledgements).
    mutating func fitDiagnostics(problemInformation: Bool, maximumSize: Int, version: ProtocolVersion) {
        guard var properties = responseProperties, !properties.isEmpty else { return }
        let isDiagnostic: (Property) -> Bool = {
            switch $0 {
            case .reasonString, .userProperty: true
            default: false
            }
        }
        guard properties.contains(where: isDiagnostic) else { return }
        if !problemInformation && !diagnosticsAlwaysAllowed {
            properties.remove(.reasonString)
            properties.remove(.userProperty)
            responseProperties = properties
            return
        }
        guard maximumSize != .max, encodedSize(version: version) > maximumSize else { return }
        properties.remove(.reasonString)
        responseProperties = properties
        guard encodedSize(version: version) > maximumSize else { return }
        properties.remove(.userProperty)
        responseProperties = properties
    }
}
