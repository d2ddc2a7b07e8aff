import MQTT
import NIOCore
import Testing

/// MQTT 5.0 properties (2.2.2): where each may appear, how often, and which values are allowed.
@Suite struct PropertyValidationTests {
    /// Packets of each type around a property list `properties` (already length-prefixed).
    enum Carrier: String, CaseIterable, Sendable {
        case connect, will, connAck, publish, pubAck, pubRel, subscribe, subAck, unsubscribe, unsubAck, disconnect, auth

        func packet(_ properties: [UInt8]) -> [UInt8] {
            switch self {
            case .connect: Wire.packet(0x10, Wire.connectHeader(level: 5, flags: 0x02), properties, Wire.string("id"))
            case .will: Wire.packet(0x10, Wire.connectHeader(level: 5, flags: 0x06), [0x00], Wire.string("id"), properties, Wire.string("w"), Wire.string("x"))
            case .connAck: Wire.packet(0x20, [0x00, 0x00], properties)
            case .publish: Wire.packet(0x30, Wire.string("t"), properties)
            case .pubAck: Wire.packet(0x40, Wire.uint16(1), [0x00], properties)
            case .pubRel: Wire.packet(0x62, Wire.uint16(1), [0x00], properties)
            case .subscribe: Wire.packet(0x82, Wire.uint16(1), properties, Wire.string("a"), [0x00])
            case .subAck: Wire.packet(0x90, Wire.uint16(1), properties, [0x00])
            case .unsubscribe: Wire.packet(0xA2, Wire.uint16(1), properties, Wire.string("a"))
            case .unsubAck: Wire.packet(0xB0, Wire.uint16(1), properties, [0x00])
            case .disconnect: Wire.packet(0xE0, [0x00], properties)
            case .auth: Wire.packet(0xF0, [0x00], properties)
            }
        }

        var packetType: UInt8 {
            switch self {
            case .connect, .will: 1
            case .connAck: 2
            case .publish: 3
            case .pubAck: 4
            case .pubRel: 6
            case .subscribe: 8
            case .subAck: 9
            case .unsubscribe: 10
            case .unsubAck: 11
            case .disconnect: 14
            case .auth: 15
            }
        }

        /// Identifiers allowed here, from the table in 2.2.2.2.
        var allowed: Set<UInt8> {
            switch self {
            case .connect: [0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27]
            case .will: [0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26]
            case .connAck: [0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A]
            case .publish: [0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26]
            case .pubAck, .pubRel, .subAck, .unsubAck: [0x1F, 0x26]
            case .subscribe: [0x0B, 0x26]
            case .unsubscribe: [0x26]
            case .disconnect: [0x11, 0x1C, 0x1F, 0x26]
            case .auth: [0x15, 0x16, 0x1F, 0x26]
            }
        }
    }

    /// A well-formed value for each identifier, so only its placement is in question.
    static func sample(_ identifier: UInt8) -> [UInt8] {
        switch identifier {
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: [identifier, 0x01]
        case 0x13, 0x21, 0x22, 0x23: [identifier, 0x00, 0x01]
        case 0x02, 0x11, 0x18, 0x27: [identifier, 0x00, 0x00, 0x00, 0x01]
        case 0x0B: [identifier, 0x01]
        case 0x26: [identifier] + Wire.string("k") + Wire.string("v")
        default: [identifier] + Wire.string("s")  // strings and binary data share the two-byte length prefix
        }
    }

    static let definedIdentifiers: [UInt8] = [
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F, 0x21,
        0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
    ]

    /// 2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its packet type … is a
    /// Malformed Packet." Every defined identifier is tried in every packet that has properties.
    @Test(arguments: Carrier.allCases)
    func aPropertyIsAcceptedExactlyWhereTheSpecificationAllowsIt(_ carrier: Carrier) throws {
        for identifier in Self.definedIdentifiers {
            let bytes = carrier.packet(Wire.properties(Self.sample(identifier)))
            if carrier.allowed.contains(identifier) {
                #expect(throws: Never.self, "0x\(String(identifier, radix: 16)) in \(carrier)") {
                    _ = try decodePacket(bytes, version: .v5)
                }
            } else {
                expectDecodingError(
                    bytes, version: .v5, .invalidProperty(identifier: UInt32(identifier), packetType: carrier.packetType), .malformedPacket)
            }
        }
    }

    @Test(arguments: [0x00, 0x04, 0x0A, 0x10, 0x14, 0x20, 0x2B, 0x7F] as [UInt8])
    func anUnknownPropertyIdentifierIsMalformed(_ identifier: UInt8) {
        expectDecodingError(
            Carrier.publish.packet(Wire.properties([identifier, 0x00])), version: .v5,
            .invalidProperty(identifier: UInt32(identifier), packetType: 3), .malformedPacket)
    }

    /// Property identifiers are variable byte integers: a two-byte one names no defined property.
    @Test func aMultiByteIdentifierIsMalformed() {
        expectDecodingError(
            Carrier.publish.packet(Wire.properties([0x81, 0x01, 0x00])), version: .v5,
            .invalidProperty(identifier: 0x81, packetType: 3), .malformedPacket)
    }

    /// "It is a Protocol Error to include the <property> more than once" (2.2.2.2 and each packet's properties).
    @Test(arguments: [
        (Carrier.publish, [0x02, 0x00, 0x00, 0x00, 0x01] as [UInt8]),
        (.connect, [0x11, 0x00, 0x00, 0x00, 0x01]),
        (.connect, [0x21, 0x00, 0x01]),
        (.will, [0x18, 0x00, 0x00, 0x00, 0x01]),
        (.connAck, [0x24, 0x01]),
        (.subscribe, [0x0B, 0x07]),
        (.pubAck, [0x1F] + Wire.string("r")),
        (.disconnect, [0x1C] + Wire.string("s")),
        (.auth, [0x15] + Wire.string("m")),
    ])
    func aDuplicatePropertyIsAProtocolError(_ carrier: Carrier, _ property: [UInt8]) {
        expectDecodingError(
            carrier.packet(Wire.properties(property, property)), version: .v5, .duplicateProperty(identifier: property[0]),
            .protocolError)
    }

    /// User Property may repeat anywhere, with the same name too (3.1.2.11.8); Subscription Identifier may repeat
    /// in a PUBLISH, once per matching subscription (MQTT-3.3.4-4). Order is kept.
    @Test func repeatablePropertiesKeepTheirOrder() throws {
        let user = [0x26] + Wire.string("k") + Wire.string("v")
        let packet = try decodePacket(Carrier.publish.packet(Wire.properties(user, [0x0B, 0x02], user, [0x0B, 0x01])), version: .v5)
        guard case .publish(let publish) = packet else { Issue.record("not a PUBLISH"); return }
        #expect(publish.properties.elements == [.userProperty("k", "v"), .subscriptionIdentifier(2), .userProperty("k", "v"), .subscriptionIdentifier(1)])
        #expect(publish.properties.subscriptionIdentifiers == [2, 1])
    }

    /// Values outside a property's range are Protocol Errors: Receive Maximum 0 (3.1.2.11.3), Maximum Packet
    /// Size 0 (3.1.2.11.4), Subscription Identifier 0 (3.8.2.1.2), Request Problem / Response Information other
    /// than 0 or 1 (3.1.2.11.7, 3.1.2.11.6), Payload Format Indicator other than 0 or 1 (3.3.2.3.2), Maximum QoS
    /// other than 0 or 1 (3.2.2.3.4), and the byte-valued availability flags other than 0 or 1 (3.2.2.3).
    @Test(arguments: [
        ("Receive Maximum 0", Carrier.connect, [0x21, 0x00, 0x00] as [UInt8]),
        ("Receive Maximum 0 in CONNACK", .connAck, [0x21, 0x00, 0x00]),
        ("Maximum Packet Size 0", .connect, [0x27, 0x00, 0x00, 0x00, 0x00]),
        ("Maximum Packet Size 0 in CONNACK", .connAck, [0x27, 0x00, 0x00, 0x00, 0x00]),
        ("Subscription Identifier 0", .subscribe, [0x0B, 0x00]),
        ("Subscription Identifier 0 in PUBLISH", .publish, [0x0B, 0x00]),
        ("Request Problem Information 2", .connect, [0x17, 0x02]),
        ("Request Response Information 2", .connect, [0x19, 0x02]),
        ("Payload Format Indicator 2", .publish, [0x01, 0x02]),
        ("Payload Format Indicator 2 in the will", .will, [0x01, 0x02]),
        ("Maximum QoS 2", .connAck, [0x24, 0x02]),
        ("Retain Available 2", .connAck, [0x25, 0x02]),
        ("Wildcard Subscription Available 2", .connAck, [0x28, 0x02]),
        ("Subscription Identifiers Available 2", .connAck, [0x29, 0x02]),
        ("Shared Subscription Available 2", .connAck, [0x2A, 0x02]),
    ])
    func aPropertyValueOutOfRangeIsAProtocolError(_ name: String, _ carrier: Carrier, _ property: [UInt8]) {
        expectDecodingError(
            carrier.packet(Wire.properties(property)), version: .v5, .invalidPropertyValue(identifier: property[0]),
            .protocolError)
    }

    /// The largest Subscription Identifier (268,435,455) decodes; a variable byte integer value larger than four
    /// bytes allow, or not in its shortest form, is malformed (MQTT-1.5.5-1).
    @Test func subscriptionIdentifierEncodingLimits() throws {
        let largest = try decodePacket(Carrier.subscribe.packet(Wire.properties([0x0B, 0xFF, 0xFF, 0xFF, 0x7F])), version: .v5)
        guard case .subscribe(let subscribe) = largest else { Issue.record("not a SUBSCRIBE"); return }
        #expect(subscribe.properties.subscriptionIdentifiers == [268_435_455])

        expectDecodingError(
            Carrier.subscribe.packet(Wire.properties([0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])), version: .v5,
            .malformedVariableByteInteger, .malformedPacket)
        expectDecodingError(
            Carrier.subscribe.packet(Wire.properties([0x0B, 0x81, 0x00])), version: .v5, .malformedVariableByteInteger, .malformedPacket)
    }

    /// The property length is a variable byte integer too.
    @Test func aNonMinimalPropertyLengthIsMalformed() {
        expectDecodingError(Carrier.publish.packet([0x80, 0x00]), version: .v5, .malformedVariableByteInteger, .malformedPacket)
        expectDecodingError(
            Carrier.publish.packet([0x80, 0x80, 0x80, 0x80, 0x01]), version: .v5, .malformedVariableByteInteger, .malformedPacket)
    }
}
