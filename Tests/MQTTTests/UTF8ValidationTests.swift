import MQTT
import NIOCore
import Testing

/// UTF-8 encoded strings (1.5.4): ill-formed UTF-8, surrogates and U+0000 are always malformed; control
/// characters and non-characters only under the `.strict` policy.
@Suite struct UTF8ValidationTests {
    static let illFormed: [(String, [UInt8])] = [
        ("overlong two-byte '/'", [0x61, 0xC0, 0xAF]),
        ("overlong two-byte NUL", [0xC0, 0x80]),
        ("overlong three-byte '/'", [0xE0, 0x80, 0xAF]),
        ("overlong three-byte U+07FF", [0xE0, 0x9F, 0xBF]),
        ("overlong four-byte U+FFFF", [0xF0, 0x8F, 0xBF, 0xBF]),
        ("high surrogate U+D800", [0xED, 0xA0, 0x80]),
        ("low surrogate U+DFFF", [0x61, 0xED, 0xBF, 0xBF]),
        ("surrogate pair encoded as two scalars", [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]),
        ("truncated three-byte sequence at the end", [0x61, 0xE6, 0x97]),
        ("truncated four-byte sequence at the end", [0xF0, 0x9F, 0x98]),
        ("truncated sequence followed by ASCII", [0xE6, 0x97, 0x61]),
        ("lone continuation byte", [0x61, 0x80, 0x62]),
        ("byte 0xFF", [0xFF]),
        ("five-byte lead byte", [0xF8, 0x88, 0x80, 0x80, 0x80]),
        ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
        ("U+0000", [0x61, 0x00, 0x62]),
    ]

    /// MQTT-1.5.4-1 (ill-formed UTF-8 and surrogates) and MQTT-1.5.4-2 (U+0000), under either policy.
    @Test(arguments: illFormed)
    func illFormedUTF8IsMalformed(_ name: String, _ topic: [UInt8]) {
        for policy in [UTF8Policy.strict, .wellFormed] {
            expectDecodingError(
                Wire.packet(0x30, Wire.binary(topic)), version: .v3_1_1, options: DecodingOptions(utf8Policy: policy),
                .invalidUTF8, .malformedPacket)
        }
    }

    /// Bytes after "a", and the scalar they encode.
    static let discouraged: [(String, [UInt8], UInt32)] = [
        ("U+0001", [0x01], 0x01),
        ("U+001F", [0x1F], 0x1F),
        ("U+007F", [0x7F], 0x7F),
        ("U+0080", [0xC2, 0x80], 0x80),
        ("U+009F", [0xC2, 0x9F], 0x9F),
        ("U+FDD0", [0xEF, 0xB7, 0x90], 0xFDD0),
        ("U+FDEF", [0xEF, 0xB7, 0xAF], 0xFDEF),
        ("U+FFFE", [0xEF, 0xBF, 0xBE], 0xFFFE),
        ("U+FFFF", [0xEF, 0xBF, 0xBF], 0xFFFF),
        ("U+1FFFE", [0xF0, 0x9F, 0xBF, 0xBE], 0x1FFFE),
        ("U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF], 0x10FFFF),
    ]

    /// 1.5.4: control characters and non-characters SHOULD NOT appear, and a receiver MAY treat a packet
    /// holding them as malformed. `.strict` does; `.wellFormed` passes them through.
    @Test(arguments: discouraged)
    func controlCharactersAndNonCharactersDependOnThePolicy(_ name: String, _ encoded: [UInt8], _ scalar: UInt32) throws {
        let bytes = Wire.packet(0x30, Wire.binary([0x61] + encoded))
        expectDecodingError(bytes, version: .v3_1_1, options: DecodingOptions(utf8Policy: .strict), .disallowedCharacter, .malformedPacket)
        let packet = try decodePacket(bytes, version: .v3_1_1, options: DecodingOptions(utf8Policy: .wellFormed))
        let topic = "a" + String(Character(try #require(Unicode.Scalar(scalar))))
        #expect(packet == .publish(PublishPacket(topic: topic, payload: ByteBuffer())))
    }

    /// Characters either policy accepts, including the boundaries next to the refused ranges and U+FEFF, which
    /// MQTT-1.5.4-3 says a receiver must not skip or strip.
    @Test(arguments: [UTF8Policy.strict, .wellFormed])
    func wellFormedCharactersAreAccepted(_ policy: UTF8Policy) throws {
        let topic = " ~\u{A0}é\u{7FF}\u{800}日\u{D7FF}\u{E000}\u{FDCF}\u{FDF0}\u{FEFF}\u{FFFD}\u{10000}😀\u{10FFFD}"
        let packet = try decodePacket(
            Wire.packet(0x30, Wire.string(topic)), version: .v3_1_1, options: DecodingOptions(utf8Policy: policy))
        #expect(packet == .publish(PublishPacket(topic: topic, payload: ByteBuffer())))
    }

    /// Every string field goes through the same check, not only the PUBLISH topic.
    @Test(arguments: [
        ("CONNECT client identifier", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x02), Wire.binary([0xC0, 0x80])), ProtocolVersion.v3_1_1),
        ("CONNECT will topic", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x06), Wire.string("id"), Wire.binary([0xED, 0xA0, 0x80]), Wire.string("x")), .v3_1_1),
        ("CONNECT user name", Wire.packet(0x10, Wire.connectHeader(level: 4, flags: 0x82), Wire.string("id"), Wire.binary([0x00])), .v3_1_1),
        ("SUBSCRIBE topic filter", Wire.packet(0x82, Wire.uint16(1), Wire.binary([0x61, 0xFF]), [0x00]), .v3_1_1),
        ("UNSUBSCRIBE topic filter", Wire.packet(0xA2, Wire.uint16(1), Wire.binary([0xE6, 0x97])), .v3_1_1),
        ("user property name", Wire.packet(0x30, Wire.string("t"), Wire.properties([0x26], Wire.binary([0xC1, 0xBF]), Wire.string("v"))), .v5),
        ("user property value", Wire.packet(0x30, Wire.string("t"), Wire.properties([0x26], Wire.string("k"), Wire.binary([0x00]))), .v5),
        ("content type", Wire.packet(0x30, Wire.string("t"), Wire.properties([0x03], Wire.binary([0x80]))), .v5),
        ("reason string", Wire.packet(0x40, Wire.uint16(1), [0x80], Wire.properties([0x1F], Wire.binary([0xED, 0xBF, 0xBF]))), .v5),
    ] as [(String, [UInt8], ProtocolVersion)])
    func everyStringFieldIsValidated(_ field: String, _ bytes: [UInt8], _ version: ProtocolVersion) {
        expectDecodingError(bytes, version: version, .invalidUTF8, .malformedPacket)
    }
}
