import NIOCore

/// PUBACK, PUBREC, PUBREL and PUBCOMP (sections 3.4–3.7): a packet identifier and, in 5.0, a reason code
/// and properties, both left out on the wire when they say nothing (Success, no properties).
public struct AcknowledgementPacket: Sendable, Hashable {
    /// The identifier of the PUBLISH (or, for PUBCOMP, the PUBREL) this acknowledges.
    public var packetIdentifier: UInt16
    /// 5.0: the outcome (`.success`, `.noMatchingSubscribers`, a failure…); always `.success` in 3.1.1.
    public var reasonCode: ReasonCode
    /// 5.0: a Reason String and User Properties; empty in 3.1.1.
    public var properties: Properties

    /// An acknowledgement of `packetIdentifier`, successful unless told otherwise.
    public init(packetIdentifier: UInt16, reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static let publishReasonCodes: Set<UInt8> = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
    static let releaseReasonCodes: Set<UInt8> = [0x00, 0x92]

    func bodySize(version: ProtocolVersion) -> Int {
        2 + ReasonTail(reasonCode: reasonCode, properties: properties).size(version: version)
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(packetIdentifier)
        try ReasonTail(reasonCode: reasonCode, properties: properties).write(to: &buffer, version: version)
    }

    static func read(type: PacketType, from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> AcknowledgementPacket {
        let identifier = try buffer.readMQTTUInt16()
        guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
        let valid = (type == .pubAck || type == .pubRec) ? publishReasonCodes : releaseReasonCodes
        let tail = try ReasonTail.read(from: &buffer, version: version, validCodes: valid, context: .acknowledgement, packetType: type.rawValue, options: options)
        return AcknowledgementPacket(packetIdentifier: identifier, reasonCode: tail.reasonCode, properties: tail.properties)
    }
}

/// The optional "reason code, then properties" ending shared by the acknowledgements, DISCONNECT and AUTH:
/// in 5.0 both may be omitted when the reason is Success (0x00) and there are no properties.
struct ReasonTail {
    var reasonCode: ReasonCode
    var properties: Properties

    func size(version: ProtocolVersion) -> Int {
        guard version == .v5 else { return 0 }
        if properties.isEmpty { return reasonCode == .success ? 0 : 1 }
        return 1 + properties.encodedSize
    }

    func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        guard version == .v5, reasonCode != .success || !properties.isEmpty else { return }
        buffer.writeInteger(reasonCode.rawValue)
        if !properties.isEmpty { try properties.write(to: &buffer) }
    }

    static func read(
        from buffer: inout ByteBuffer, version: ProtocolVersion, validCodes: Set<UInt8>, context: PropertyContext,
        packetType: UInt8, options: DecodingOptions
    ) throws -> ReasonTail {
        guard version == .v5, buffer.readableBytes > 0 else { return ReasonTail(reasonCode: .success, properties: []) }
        let code = try buffer.readMQTTByte()
        guard validCodes.contains(code) else { throw MQTTError(.invalidReasonCode(code)) }
        let properties = buffer.readableBytes > 0
            ? try Properties.read(from: &buffer, context: context, packetType: packetType, policy: options.utf8Policy) : []
        return ReasonTail(reasonCode: ReasonCode(rawValue: code), properties: properties)
    }
}
