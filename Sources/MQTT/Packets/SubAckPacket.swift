import NIOCore

/// SUBACK (section 3.9): one reason code per topic filter of the SUBSCRIBE, in order.
public struct SubAckPacket: Sendable, Hashable {
    /// The identifier of the SUBSCRIBE this answers.
    public var packetIdentifier: UInt16
    /// The granted QoS (`.grantedQoS0`…`.grantedQoS2`) or a failure for each filter, in the SUBSCRIBE's order.
    public var reasonCodes: [ReasonCode]
    /// 5.0: a Reason String and User Properties; empty in 3.1.1.
    public var properties: Properties

    /// A SUBACK answering SUBSCRIBE `packetIdentifier`.
    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    static let validReasonCodes: Set<UInt8> = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]

    func bodySize(version: ProtocolVersion) -> Int {
        2 + (version == .v5 ? properties.encodedSize : 0) + reasonCodes.count
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(packetIdentifier)
        if version == .v5 { try properties.write(to: &buffer) }
        for code in reasonCodes { buffer.writeInteger(code.rawValue) }
    }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> SubAckPacket {
        let identifier = try buffer.readMQTTUInt16()
        guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
        let properties = version == .v5 ? try Properties.read(from: &buffer, context: .subAck, packetType: 9, policy: options.utf8Policy) : []
        var codes: [ReasonCode] = []
        codes.reserveCapacity(buffer.readableBytes)
        while let code = buffer.readInteger(as: UInt8.self) {
            let valid = version == .v5 ? validReasonCodes.contains(code) : (code <= 2 || code == 0x80)
            guard valid else { throw MQTTError(.invalidReasonCode(code)) }
            codes.append(ReasonCode(rawValue: code))
        }
        guard !codes.isEmpty else { throw MQTTError(.emptySubscriptionList) }
        return SubAckPacket(packetIdentifier: identifier, reasonCodes: codes, properties: properties)
    }
}
