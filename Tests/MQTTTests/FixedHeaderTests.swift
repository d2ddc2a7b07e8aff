import MQTT
import NIOCore
import Testing

/// The fixed header: packet type, flags, and the remaining length with its limits.
@Suite struct FixedHeaderTests {
    static let nonPublishTypes = PacketType.allCases.filter { $0 != .publish }

    /// MQTT-2.1.3-1 (5.0; MQTT-2.2.2-1/-2 in 3.1.1): the flags of every type but PUBLISH are fixed: 0b0010 for
    /// PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 otherwise, and any other value makes the packet malformed.
    @Test(arguments: nonPublishTypes)
    func reservedFlagsOtherThanTheRequiredOnesAreMalformed(_ type: PacketType) {
        let required: UInt8 = [.pubRel, .subscribe, .unsubscribe].contains(type) ? 0b0010 : 0
        for flags in UInt8(0)...15 where flags != required {
            expectDecodingError(
                [type.rawValue << 4 | flags, 0x00], version: .v5,
                .invalidFixedHeaderFlags(type: type.rawValue, flags: flags), .malformedPacket)
        }
    }

    @Test func theRequiredFlagsAreAccepted() throws {
        #expect(try decodePacket([0x62, 0x02, 0x00, 0x01], version: .v3_1_1) == .pubRel(AcknowledgementPacket(packetIdentifier: 1)))
        #expect(try decodePacket([0xC0, 0x00], version: .v3_1_1) == .pingReq)
        #expect(try decodePacket([0xD0, 0x00], version: .v3_1_1) == .pingResp)
    }

    /// Packet type 0 is reserved in every version.
    @Test(arguments: [ProtocolVersion.v3_1, .v3_1_1, .v5])
    func packetTypeZeroIsMalformed(_ version: ProtocolVersion) {
        expectDecodingError([0x00, 0x00], version: version, .invalidPacketType(0), .malformedPacket)
    }

    /// Packet type 15 is reserved ("Forbidden") in 3.1 and 3.1.1; 5.0 gave it to AUTH. A stream is read as 3.1.1
    /// until its CONNECT says otherwise.
    @Test(arguments: [ProtocolVersion?.none, .v3_1, .v3_1_1])
    func authIsMalformedBefore5(_ version: ProtocolVersion?) throws {
        expectDecodingError([0xF0, 0x00], version: version, .invalidPacketType(15), .malformedPacket)
    }

    @Test func authDecodesIn5() throws {
        #expect(try decodePacket([0xF0, 0x00], version: .v5) == .auth(AuthPacket(reasonCode: .success)))
    }

    // MARK: Remaining length

    /// A variable byte integer has at most four bytes (1.5.5): a fourth byte with its continuation bit set is
    /// malformed at once, without waiting for a fifth.
    @Test func aFiveByteRemainingLengthIsMalformed() {
        expectDecodingError([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], version: .v3_1_1, .malformedVariableByteInteger, .malformedPacket)
        expectDecodingError([0x30, 0x80, 0x80, 0x80, 0x80, 0x01], version: .v3_1_1, .malformedVariableByteInteger, .malformedPacket)
        expectDecodingError([0x30, 0xFF, 0xFF, 0xFF, 0xFF], version: .v3_1_1, .malformedVariableByteInteger, .malformedPacket)
    }

    /// MQTT-1.5.5-1: a variable byte integer uses the fewest bytes that hold its value.
    @Test(arguments: [
        [0xC0, 0x80, 0x00],  // 0 in two bytes
        [0xC0, 0x80, 0x80, 0x00],  // 0 in three bytes
        [0xC0, 0x80, 0x80, 0x80, 0x00],  // 0 in four bytes
        [0x40, 0x82, 0x00, 0x00, 0x01],  // 2 in two bytes
    ] as [[UInt8]])
    func aNonMinimalRemainingLengthIsMalformed(_ bytes: [UInt8]) {
        expectDecodingError(bytes, version: .v3_1_1, .malformedVariableByteInteger, .malformedPacket)
    }

    @Test func remainingLengthsAtEachEncodingBoundaryAreRead() throws {
        for (length, prefix) in [(127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01])] as [(Int, [UInt8])] {
            #expect(Wire.variableByteInteger(length) == prefix)
            let payload = [UInt8](repeating: 0x61, count: length - 3)
            let packet = try decodePacket(Wire.packet(0x30, Wire.string("t"), payload), version: .v3_1_1)
            #expect(packet == .publish(PublishPacket(topic: "t", payload: ByteBuffer(bytes: payload))))
        }
    }

    /// Content that needs more bytes than the remaining length gives is malformed; the decoder does not read
    /// into the next packet.
    @Test(arguments: [
        ("PUBACK cut inside its packet identifier", [0x40, 0x01, 0x00, 0x01], ProtocolVersion.v3_1_1),
        ("SUBSCRIBE cut inside its topic filter", [0x82, 0x06, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00], .v3_1_1),
        ("SUBSCRIBE without its options byte", [0x82, 0x06, 0x00, 0x01, 0x00, 0x02, 0x61, 0x62, 0x01], .v3_1_1),
        ("CONNECT cut inside its client identifier", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x02), [0x00, 0x05, 0x61]) + [0x62], .v3_1_1),
        ("CONNECT missing its announced user name", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x82), Wire.string("id")), .v3_1_1),
        ("property length past the packet", Wire.packet(0x30, Wire.string("t"), [0x0A, 0x01, 0x01]), .v5),
        ("property value past the property length", Wire.packet(0x30, Wire.string("t"), [0x03, 0x02, 0x00, 0x00, 0x0E, 0x10]), .v5),
        ("PUBLISH topic length past the packet", Wire.packet(0x30, [0x00, 0x09, 0x61]), .v3_1_1),
    ] as [(String, [UInt8], ProtocolVersion)])
    func aRemainingLengthShorterThanTheContentIsMalformed(_ name: String, _ bytes: [UInt8], _ version: ProtocolVersion) {
        expectDecodingError(bytes, version: version, .remainingLengthMismatch, .malformedPacket)
    }

    /// Bytes left over after the content a packet type defines are malformed.
    @Test(arguments: [
        ("PINGREQ with a body", [0xC0, 0x01, 0x00], ProtocolVersion.v3_1_1),
        ("PINGRESP with a body", [0xD0, 0x01, 0x00], .v5),
        ("3.1.1 PUBACK with a reason code", [0x40, 0x03, 0x00, 0x01, 0x00], .v3_1_1),
        ("3.1.1 DISCONNECT with a reason code", [0xE0, 0x01, 0x00], .v3_1_1),
        ("3.1.1 UNSUBACK with a reason code", [0xB0, 0x03, 0x00, 0x01, 0x00], .v3_1_1),
        ("3.1.1 CONNACK with properties", [0x20, 0x03, 0x00, 0x00, 0x00], .v3_1_1),
        ("CONNECT with a trailing byte", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x02), Wire.string("id"), [0x00]), .v3_1_1),
    ] as [(String, [UInt8], ProtocolVersion)])
    func aRemainingLengthLongerThanTheContentIsMalformed(_ name: String, _ bytes: [UInt8], _ version: ProtocolVersion) {
        expectDecodingError(bytes, version: version, .remainingLengthMismatch, .malformedPacket)
    }

    // MARK: Maximum packet size

    /// A packet over the receiver's Maximum Packet Size (3.1.2.11.4) is refused from its fixed header alone: the
    /// decoder throws with only 5 bytes of a 268,435,460-byte packet in hand instead of waiting for the rest.
    @Test func aPacketTooLargeIsRefusedFromTheFixedHeaderAlone() {
        expectDecodingError(
            [0x30, 0xFF, 0xFF, 0xFF, 0x7F], version: .v5, options: DecodingOptions(maximumPacketSize: 1024),
            .packetTooLarge(size: 268_435_460, maximum: 1024), .packetTooLarge)
    }

    /// The limit counts the whole packet, fixed header included: exactly the maximum passes, one more byte fails.
    @Test func theMaximumPacketSizeCountsTheWholePacket() throws {
        let options = DecodingOptions(maximumPacketSize: 20)
        let fits = Wire.packet(0x30, Wire.string("t"), [UInt8](repeating: 0x61, count: 15))
        #expect(fits.count == 20)
        #expect(try decodePacket(fits, version: .v3_1_1, options: options) != nil)

        let tooLarge = Wire.packet(0x30, Wire.string("t"), [UInt8](repeating: 0x61, count: 16))
        expectDecodingError(
            Array(tooLarge.prefix(2)), version: .v3_1_1, options: options,
            .packetTooLarge(size: 21, maximum: 20), .packetTooLarge)
    }

    /// With no limit set, the largest packet the remaining length can describe is still waited for, not refused.
    @Test func theDefaultMaximumAdmitsTheLargestRemainingLength() throws {
        #expect(try decodePacket([0x30, 0xFF, 0xFF, 0xFF, 0x7F], version: .v3_1_1) == nil)
    }

    @Test func anIncompleteHeaderConsumesNothing() throws {
        var decoder = PacketDecoder(version: .v3_1_1)
        for prefix in [[], [0x30], [0x30, 0x80], [0x30, 0x80, 0x01, 0x00]] as [[UInt8]] {
            var buffer = ByteBuffer(bytes: prefix)
            #expect(try decoder.decode(buffer: &buffer) == nil)
            #expect(buffer.readableBytes == prefix.count)
        }
    }
}
