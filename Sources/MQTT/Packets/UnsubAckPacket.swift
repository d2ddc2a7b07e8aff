import NIOCore

/// UNSUBACK (section 3.11). Reason codes and properties exist in 5.0 only.
public struct UnsubAckPacket: Sendable, Hashable {
    /// The identifier of the UNSUBSCRIBE this answers.
    public var packetIdentifier: UInt16
    /// 5.0: the outcome for each filter, in the UNSUBSCRIBE's order; empty in 3.1.1, which has none.
    public var reasonCodes: [ReasonCode]
    /// 5.0: a Reason String and User Properties; empty in 3.1.1.
    public var properties: Properties

    /// An UNSUBACK answering UNSUBSCRIBE `packetIdentifier`.
    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode] = [], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    static let validReasonCodes: Set<UInt8> = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]

    func bodySize(version: ProtocolVersion) -> Int {
        version == .v5 ? 2 + properties.encodedSize + reasonCodes.count : 2
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(packetIdentifier)
        guard version == .v5 else { return }
        try properties.write(to: &buffer)
        for code in reasonCodes { buffer.writeInteger(code.rawValue) }
    }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> UnsubAckPacket {
        let identifier = try buffer.readMQTTUInt16()
        guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
        guard version == .v5 else { return UnsubAckPacket(packetIdentifier: identifier) }
        let properties = try Properties.read(from: &buffer, context: .unsubAck, packetType: 11, policy: options.utf8Policy)
        var codes: [ReasonCode] = []
        while let code = buffer.readInteger(as: UInt8.self) {
            guard validReasonCodes.contains(code) else { throw MQTTError(.invalidReasonCode(code)) }
            codes.append(ReasonCode(rawValue: code))
        }
        guard !codes.isEmpty else { throw MQTTError(.emptySubscriptionList) }
        return UnsubAckPacket(packetIdentifier: identifier, reasonCodes: codes, properties: properties)
    }
}
