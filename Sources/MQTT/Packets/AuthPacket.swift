import NIOCore

/// AUTH (section 3.15), 5.0 only: the steps of enhanced authentication.
public struct AuthPacket: Sendable, Hashable {
    /// `.success` when authentication is done, `.continueAuthentication` for another step, `.reAuthenticate` to
    /// start over on an open connection.
    public var reasonCode: ReasonCode
    /// The Authentication Method and Data of this step, and possibly a Reason String and User Properties.
    public var properties: Properties

    /// An AUTH with `reasonCode` and `properties`.
    public init(reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    static let validReasonCodes: Set<UInt8> = [0x00, 0x18, 0x19]

    var tail: ReasonTail { ReasonTail(reasonCode: reasonCode, properties: properties) }

    static func read(from buffer: inout ByteBuffer, options: DecodingOptions) throws -> AuthPacket {
        let tail = try ReasonTail.read(from: &buffer, version: .v5, validCodes: validReasonCodes, context: .auth, packetType: 15, options: options)
        return AuthPacket(reasonCode: tail.reasonCode, properties: tail.properties)
    }
}
