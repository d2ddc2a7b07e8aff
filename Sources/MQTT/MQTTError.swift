/// A violation of the MQTT specification found while decoding or validating a packet.
///
/// Each case maps to the reason code the 5.0 specification prescribes for it, so a receiver can answer
/// with the right CONNACK or DISCONNECT (3.1.1 peers are simply disconnected).
public struct MQTTError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which rule was broken, with the offending value where it helps.
    public enum Kind: Sendable, Hashable {
        /// The first byte names packet type 0 or 15 (15 is AUTH, valid only in 5.0).
        case invalidPacketType(UInt8)
        /// The reserved flags of the fixed header are not those the packet type requires (MQTT-2.1.3-1).
        case invalidFixedHeaderFlags(type: UInt8, flags: UInt8)
        /// A variable byte integer longer than four bytes, or not in its shortest form (MQTT-1.5.5-1).
        case malformedVariableByteInteger
        /// The remaining length disagrees with the packet's content.
        case remainingLengthMismatch
        /// The packet is larger than the receiver's maximum packet size.
        case packetTooLarge(size: Int, maximum: Int)
        /// A string that is not well-formed UTF-8 or holds U+0000 (MQTT-1.5.4-1, MQTT-1.5.4-2).
        case invalidUTF8
        /// A string holding a control character or non-character the receiver's policy refuses (1.5.4 lets a
        /// receiver treat these as malformed).
        case disallowedCharacter
        /// CONNECT protocol name other than "MQTT" / "MQIsdp" (MQTT-3.1.2-1).
        case invalidProtocolName(String)
        /// CONNECT protocol level not supported (MQTT-3.1.2-2): answer CONNACK 0x01 / 0x84.
        case unsupportedProtocolVersion(UInt8)
        /// The CONNECT reserved flag is set (MQTT-3.1.2-3).
        case connectReservedFlagSet
        /// Will QoS or Will Retain set without the Will Flag, or Will QoS 3 (MQTT-3.1.2-11, -13, -15, -14).
        case invalidWillFlags
        /// Password flag without the user name flag in 3.1/3.1.1 (MQTT-3.1.2-22).
        case passwordWithoutUserName
        /// PUBLISH with both QoS bits set (MQTT-3.3.1-4).
        case invalidQoS
        /// DUP set on a QoS 0 PUBLISH (MQTT-3.3.1-2).
        case duplicateFlagOnQoS0
        /// A packet identifier of zero where a non-zero one is required (MQTT-2.2.1-3).
        case zeroPacketIdentifier
        /// A property identifier unknown or not allowed in this packet type (2.2.2.2).
        case invalidProperty(identifier: UInt32, packetType: UInt8)
        /// A property that may appear once appears again.
        case duplicateProperty(identifier: UInt8)
        /// A property whose value is outside its allowed range (e.g. Receive Maximum 0, Maximum QoS 2).
        case invalidPropertyValue(identifier: UInt8)
        /// A topic name that holds a wildcard or is empty without a Topic Alias (MQTT-3.3.2-2).
        case invalidTopicName
        /// A PUBLISH with an empty topic name and no Topic Alias (3.3.2.1: a Protocol Error).
        case missingTopicName
        /// A topic filter that breaks the wildcard rules (MQTT-4.7.1-1, MQTT-4.7.1-2).
        case invalidTopicFilter
        /// SUBSCRIBE or UNSUBSCRIBE with no topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2).
        case emptySubscriptionList
        /// Reserved bits of the Subscription Options byte are set (MQTT-3.8.3-5).
        case invalidSubscriptionOptions
        /// A 5.0 subscription asking for QoS 3 (3.8.3.1: a Protocol Error).
        case invalidSubscriptionQoS
        /// Retain Handling 3 (MQTT-3.8.3-6 area: "It is a Protocol Error to send a Retain Handling value of 3").
        case invalidRetainHandling
        /// No Local on a shared subscription (MQTT-3.8.3-4).
        case noLocalOnSharedSubscription
        /// A reason code not defined for this packet type.
        case invalidReasonCode(UInt8)
        /// A packet that is valid alone but not allowed in this version or direction (e.g. AUTH in 3.1.1).
        case unexpectedPacket(String)
        /// A string or binary data field longer than the 65,535 bytes its two-byte length can describe (1.5.4,
        /// 1.5.6); thrown by the encoder, which cannot write it without corrupting the packet.
        case fieldTooLong(length: Int)
    }

    /// Which rule was broken.
    public var kind: Kind

    /// An error for a violation of `kind`.
    public init(_ kind: Kind) {
        self.kind = kind
    }

    /// The reason code the 5.0 specification prescribes for this violation.
    public var reasonCode: ReasonCode {
        switch kind {
        case .packetTooLarge: .packetTooLarge
        case .unsupportedProtocolVersion: .unsupportedProtocolVersion
        case .invalidTopicName: .topicNameInvalid
        case .invalidTopicFilter: .topicFilterInvalid
        case .duplicateProperty, .invalidPropertyValue, .zeroPacketIdentifier, .emptySubscriptionList,
            .invalidRetainHandling, .invalidSubscriptionQoS, .noLocalOnSharedSubscription, .missingTopicName, .unexpectedPacket, .passwordWithoutUserName:
            .protocolError
        case .invalidPacketType, .invalidFixedHeaderFlags, .malformedVariableByteInteger, .remainingLengthMismatch,
            .invalidUTF8, .disallowedCharacter, .invalidProtocolName, .connectReservedFlagSet, .invalidWillFlags,
            .invalidQoS, .duplicateFlagOnQoS0, .invalidProperty, .invalidSubscriptionOptions, .invalidReasonCode,
            .fieldTooLong:
            .malformedPacket
        }
    }

    /// The violation and the reason code it calls for: "invalidQoS(3) (0x81 Malformed Packet)".
    public var description: String {
        "\(kind) (\(reasonCode))"
    }
}

extension MQTTError {
    static let truncated = MQTTError(.remainingLengthMismatch)
}
