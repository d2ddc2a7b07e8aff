import NIOCore

/// Decodes MQTT packets from a byte stream that may arrive split at any byte.
///
/// The fixed header is read first and a packet larger than `options.maximumPacketSize` is refused at once,
/// before its body is buffered. Until a CONNECT fixes the protocol version, packets are read as 3.1.1; a
/// decoded CONNECT sets `version` for the rest of the stream.
public struct PacketDecoder: Sendable {
    /// The connection's protocol version: nil until a CONNECT is decoded (a broker), or set from the start (a client).
    public var version: ProtocolVersion?
    /// The size limit and UTF-8 policy packets are checked against.
    public var options: DecodingOptions

    /// A decoder for a stream in `version`, or, with nil, one that learns the version from the CONNECT it decodes.
    public init(version: ProtocolVersion? = nil, options: DecodingOptions = DecodingOptions()) {
        self.version = version
        self.options = options
    }

    /// The size of the packet at the front of `buffer`, fixed header included, once that header is there; nil
    /// before, and for a packet larger than allowed (`decode` says so).
    public func packetSize(atFrontOf buffer: ByteBuffer) -> Int? {
        guard case .header(_, let remainingLength, let headerSize)? = try? buffer.peekFixedHeader() else { return nil }
        let total = headerSize + remainingLength
        return total <= options.maximumPacketSize ? total : nil
    }

    /// Decodes one packet from the front of `buffer`, or returns nil (consuming nothing) when more bytes are needed.
    public mutating func decode(buffer: inout ByteBuffer) throws -> Packet? {
        guard case .header(let first, let remainingLength, let headerSize) = try buffer.peekFixedHeader() else { return nil }
        let total = headerSize + remainingLength
        guard total <= options.maximumPacketSize else {
            throw MQTTError(.packetTooLarge(size: total, maximum: options.maximumPacketSize))
        }
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: headerSize)
        var body = buffer.readSlice(length: remainingLength)!
        let packet = try decodeBody(first: first, body: &body)
        guard body.readableBytes == 0 else { throw MQTTError(.remainingLengthMismatch) }
        if case .connect(let connect) = packet { version = connect.protocolVersion }
        return packet
    }

    private func decodeBody(first: UInt8, body: inout ByteBuffer) throws -> Packet {
        let version = self.version ?? .v3_1_1
        let flags = first & 0x0F
        guard let type = PacketType(rawValue: first >> 4), type != .auth || version == .v5 else {
            throw MQTTError(.invalidPacketType(first >> 4))
        }
        if type != .publish && flags != type.requiredFlags {
            throw MQTTError(.invalidFixedHeaderFlags(type: type.rawValue, flags: flags))
        }
        switch type {
        case .publish:
            return .publish(try PublishPacket.read(flags: flags, from: &body, version: version, options: options))
        case .connect:
            return .connect(try ConnectPacket.read(from: &body, options: options))
        case .connAck:
            return .connAck(try ConnAckPacket.read(from: &body, version: version, options: options))
        case .pubAck:
            return .pubAck(try AcknowledgementPacket.read(type: type, from: &body, version: version, options: options))
        case .pubRec:
            return .pubRec(try AcknowledgementPacket.read(type: type, from: &body, version: version, options: options))
        case .pubRel:
            return .pubRel(try AcknowledgementPacket.read(type: type, from: &body, version: version, options: options))
        case .pubComp:
            return .pubComp(try AcknowledgementPacket.read(type: type, from: &body, version: version, options: options))
        case .subscribe:
            return .subscribe(try SubscribePacket.read(from: &body, version: version, options: options))
        case .subAck:
            return .subAck(try SubAckPacket.read(from: &body, version: version, options: options))
        case .unsubscribe:
            return .unsubscribe(try UnsubscribePacket.read(from: &body, version: version, options: options))
        case .unsubAck:
            return .unsubAck(try UnsubAckPacket.read(from: &body, version: version, options: options))
        case .pingReq:
            return .pingReq
        case .pingResp:
            return .pingResp
        case .disconnect:
            return .disconnect(try DisconnectPacket.read(from: &body, version: version, options: options))
        case .auth:
            return .auth(try AuthPacket.read(from: &body, options: options))
        }
    }
}

/// `PacketDecoder` as a SwiftNIO decoder: wrap it in `ByteToMessageHandler` to turn bytes into `Packet`s.
extension PacketDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each decoded message is one whole packet.
    public typealias InboundOut = Packet

    /// Decodes what is left when the stream ends, as `decode(buffer:)` does: a packet cut short stays undecoded.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Packet? {
        try decode(buffer: &buffer)
    }
}
