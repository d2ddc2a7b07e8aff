import NIOCore

/// The control packet types (section 2.1.2).
public enum PacketType: UInt8, Sendable, Hashable, CaseIterable {
    case connect = 1
    case connAck = 2
    case publish = 3
    case pubAck = 4
    case pubRec = 5
    case pubRel = 6
    case pubComp = 7
    case subscribe = 8
    case subAck = 9
    case unsubscribe = 10
    case unsubAck = 11
    case pingReq = 12
    case pingResp = 13
    case disconnect = 14
    case auth = 15

    /// The fixed-header flags every packet type but PUBLISH must carry (MQTT-2.1.3-1).
    var requiredFlags: UInt8 {
        switch self {
        case .pubRel, .subscribe, .unsubscribe: 0b0010
        default: 0
        }
    }
}

/// An MQTT control packet of any version.
public enum Packet: Sendable, Hashable {
    indirect case connect(ConnectPacket)
    case connAck(ConnAckPacket)
    case publish(PublishPacket)
    case pubAck(AcknowledgementPacket)
    case pubRec(AcknowledgementPacket)
    case pubRel(AcknowledgementPacket)
    case pubComp(AcknowledgementPacket)
    case subscribe(SubscribePacket)
    case subAck(SubAckPacket)
    case unsubscribe(UnsubscribePacket)
    case unsubAck(UnsubAckPacket)
    case pingReq
    case pingResp
    case disconnect(DisconnectPacket)
    case auth(AuthPacket)

    public var type: PacketType {
        switch self {
        case .connect: .connect
        case .connAck: .connAck
        case .publish: .publish
        case .pubAck: .pubAck
        case .pubRec: .pubRec
        case .pubRel: .pubRel
        case .pubComp: .pubComp
        case .subscribe: .subscribe
        case .subAck: .subAck
        case .unsubscribe: .unsubscribe
        case .unsubAck: .unsubAck
        case .pingReq: .pingReq
        case .pingResp: .pingResp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }
}

/// What a decoder needs to know besides the bytes.
public struct DecodingOptions: Sendable, Hashable {
    /// Packets larger than this (fixed header included) are refused before they are buffered.
    public var maximumPacketSize: Int
    public var utf8Policy: UTF8Policy

    public init(maximumPacketSize: Int = 268_435_460, utf8Policy: UTF8Policy = .strict) {
        self.maximumPacketSize = maximumPacketSize
        self.utf8Policy = utf8Policy
    }
}
