import NIOCore

/// The control packet types (section 2.1.2).
public enum PacketType: UInt8, Sendable, Hashable, CaseIterable {
    /// 1: CONNECT, the client's first packet: who it is and how it wants the session.
    case connect = 1
    /// 2: CONNACK, the server's answer to CONNECT.
    case connAck = 2
    /// 3: PUBLISH, an application message, in either direction.
    case publish = 3
    /// 4: PUBACK, the acknowledgement of a QoS 1 PUBLISH.
    case pubAck = 4
    /// 5: PUBREC, the first answer to a QoS 2 PUBLISH: received.
    case pubRec = 5
    /// 6: PUBREL, the sender's answer to PUBREC: release the message.
    case pubRel = 6
    /// 7: PUBCOMP, the last packet of a QoS 2 exchange: complete.
    case pubComp = 7
    /// 8: SUBSCRIBE, the client asking for the messages of topic filters.
    case subscribe = 8
    /// 9: SUBACK, the server's answer to SUBSCRIBE.
    case subAck = 9
    /// 10: UNSUBSCRIBE, the client removing subscriptions.
    case unsubscribe = 10
    /// 11: UNSUBACK, the server's answer to UNSUBSCRIBE.
    case unsubAck = 11
    /// 12: PINGREQ, the client's keep-alive ping.
    case pingReq = 12
    /// 13: PINGRESP, the server's answer to PINGREQ.
    case pingResp = 13
    /// 14: DISCONNECT, the end of the connection, announced; the server may send it too in 5.0.
    case disconnect = 14
    /// 15: AUTH, a step of 5.0 enhanced authentication.
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
    /// The client's opening packet.
    indirect case connect(ConnectPacket)
    /// The server's answer to CONNECT.
    case connAck(ConnAckPacket)
    /// An application message, in either direction.
    case publish(PublishPacket)
    /// The acknowledgement of a QoS 1 PUBLISH.
    case pubAck(AcknowledgementPacket)
    /// The first answer to a QoS 2 PUBLISH: received.
    case pubRec(AcknowledgementPacket)
    /// The sender's answer to PUBREC: release the message.
    case pubRel(AcknowledgementPacket)
    /// The last packet of a QoS 2 exchange.
    case pubComp(AcknowledgementPacket)
    /// The client asking for the messages of topic filters.
    case subscribe(SubscribePacket)
    /// The server's answer to SUBSCRIBE.
    case subAck(SubAckPacket)
    /// The client removing subscriptions.
    case unsubscribe(UnsubscribePacket)
    /// The server's answer to UNSUBSCRIBE.
    case unsubAck(UnsubAckPacket)
    /// The client's keep-alive ping; it has no body.
    case pingReq
    /// The server's answer to PINGREQ; it has no body.
    case pingResp
    /// The end of the connection, announced.
    case disconnect(DisconnectPacket)
    /// A step of 5.0 enhanced authentication.
    case auth(AuthPacket)

    /// The packet's control packet type, as its fixed header names it.
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
    /// How strictly the strings in packets are checked.
    public var utf8Policy: UTF8Policy

    /// Options that accept any packet MQTT allows (268,435,460 bytes at most) and refuse control characters.
    public init(maximumPacketSize: Int = 268_435_460, utf8Policy: UTF8Policy = .strict) {
        self.maximumPacketSize = maximumPacketSize
        self.utf8Policy = utf8Policy
    }
}
