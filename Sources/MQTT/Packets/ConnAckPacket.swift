import NIOCore

/// CONNACK (section 3.2). In 3.1/3.1.1 `reasonCode` holds the return code (see `ConnectReturnCode`).
public struct ConnAckPacket: Sendable, Hashable {
    /// Whether the server resumed a session it kept for the client identifier; always false on a refusal.
    public var sessionPresent: Bool
    /// Whether the connection is accepted (`.success`) or why it is refused.
    public var reasonCode: ReasonCode
    /// 5.0: the server's limits and answers (Receive Maximum, Maximum QoS, Assigned Client Identifier, …).
    public var properties: Properties

    /// A CONNACK that accepts a connection with a new session, unless told otherwise.
    public init(sessionPresent: Bool = false, reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static let validReasonCodes: Set<UInt8> = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A,
        0x9B, 0x9C, 0x9D, 0x9F,
    ]

    func bodySize(version: ProtocolVersion) -> Int {
        2 + (version == .v5 ? properties.encodedSize : 0)
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(UInt8(sessionPresent ? 1 : 0))
        buffer.writeInteger(reasonCode.rawValue)
        if version == .v5 { try properties.write(to: &buffer) }
    }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> ConnAckPacket {
        let flags = try buffer.readMQTTByte()
        // Bits 7-1 of the acknowledge flags are reserved (MQTT-3.2.2-1 in 5.0).
        guard flags & 0xFE == 0 else { throw MQTTError(.invalidFixedHeaderFlags(type: 2, flags: flags)) }
        let code = try buffer.readMQTTByte()
        if version == .v5 {
            guard validReasonCodes.contains(code) else { throw MQTTError(.invalidReasonCode(code)) }
            let properties = try Properties.read(from: &buffer, context: .connAck, packetType: 2, policy: options.utf8Policy)
            return ConnAckPacket(sessionPresent: flags == 1, reasonCode: ReasonCode(rawValue: code), properties: properties)
        }
        guard code <= 5 else { throw MQTTError(.invalidReasonCode(code)) }
        return ConnAckPacket(sessionPresent: flags == 1, reasonCode: ReasonCode(rawValue: code))
    }
}
