import NIOCore

/// DISCONNECT (section 3.14). In 3.1/3.1.1 it carries nothing; in 5.0 a reason code and properties.
public struct DisconnectPacket: Sendable, Hashable {
    /// 5.0: why the connection ends; `.normalDisconnection` (and in 3.1.1 always).
    public var reasonCode: ReasonCode
    /// 5.0: a Session Expiry Interval (from the client), a Server Reference or Reason String (from the server), User
    /// Properties.
    public var properties: Properties

    /// A DISCONNECT, a normal one unless told otherwise.
    public init(reasonCode: ReasonCode = .normalDisconnection, properties: Properties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static let validReasonCodes: Set<UInt8> = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ]

    var tail: ReasonTail { ReasonTail(reasonCode: reasonCode, properties: properties) }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> DisconnectPacket {
        let tail = try ReasonTail.read(from: &buffer, version: version, validCodes: validReasonCodes, context: .disconnect, packetType: 14, options: options)
        return DisconnectPacket(reasonCode: tail.reasonCode, properties: tail.properties)
    }
}
