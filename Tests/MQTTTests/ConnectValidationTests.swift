import MQTT
import NIOCore
import Testing

/// The CONNECT variable header: protocol name and level, and the connect flags.
@Suite struct ConnectValidationTests {
    /// A CONNECT with the given header fields, `payload` following the (5.0: empty) properties.
    static func connect(name: String = "MQTT", level: UInt8, flags: UInt8, payload: [UInt8]...) -> [UInt8] {
        Wire.packet(0x10, Wire.connectHeader(name: name, level: level, flags: flags), level == 5 ? [0x00] : [], payload.flatMap { $0 })
    }

    /// MQTT-3.1.2-1: the protocol name is "MQTT" ("MQIsdp" for 3.1); anything else is not MQTT.
    @Test(arguments: ["MQTX", "mqtt", "MQIsdP", "", "MQTT "])
    func aWrongProtocolNameIsMalformed(_ name: String) {
        expectDecodingError(
            Self.connect(name: name, level: 4, flags: 0x02, payload: Wire.string("id")), version: nil,
            .invalidProtocolName(name), .malformedPacket)
    }

    /// MQTT-3.1.2-2: an unsupported protocol level is answered with CONNACK 0x84 (5.0) / return code 0x01 (3.1.1).
    @Test(arguments: [0, 1, 2, 6, 7, 0x83, 0xFF] as [UInt8])
    func anUnsupportedProtocolLevelIsRefused(_ level: UInt8) {
        expectDecodingError(
            Self.connect(level: level, flags: 0x02, payload: Wire.string("id")), version: nil,
            .unsupportedProtocolVersion(level), .unsupportedProtocolVersion)
        #expect(ReasonCode.unsupportedProtocolVersion.connectReturnCode == .unacceptableProtocolVersion)
    }

    /// The level decides the name: "MQIsdp" is level 3 only, "MQTT" levels 4 and 5 only.
    @Test(arguments: [("MQIsdp", 4), ("MQIsdp", 5), ("MQTT", 3)] as [(String, UInt8)])
    func aProtocolNameThatDoesNotMatchItsLevelIsRefused(_ name: String, _ level: UInt8) {
        expectDecodingError(
            Self.connect(name: name, level: level, flags: 0x02, payload: Wire.string("id")), version: nil,
            .unsupportedProtocolVersion(level), .unsupportedProtocolVersion)
    }

    /// MQTT-3.1.2-3: the reserved bit of the connect flags is 0.
    @Test(arguments: [3, 4, 5] as [UInt8])
    func theReservedConnectFlagIsMalformed(_ level: UInt8) {
        expectDecodingError(
            Self.connect(name: level == 3 ? "MQIsdp" : "MQTT", level: level, flags: 0x03, payload: Wire.string("id")),
            version: nil, .connectReservedFlagSet, .malformedPacket)
    }

    /// Without the Will Flag, Will QoS and Will Retain are 0 (5.0: MQTT-3.1.2-11, MQTT-3.1.2-13;
    /// 3.1.1: MQTT-3.1.2-13, MQTT-3.1.2-15).
    @Test(arguments: [0x0A, 0x12, 0x22, 0x3A] as [UInt8])
    func willQoSOrRetainWithoutAWillIsMalformed(_ flags: UInt8) {
        for level in [4, 5] as [UInt8] {
            expectDecodingError(
                Self.connect(level: level, flags: flags, payload: Wire.string("id")), version: nil,
                .invalidWillFlags, .malformedPacket)
        }
    }

    /// Will QoS 3 is malformed (5.0: MQTT-3.1.2-12; 3.1.1: MQTT-3.1.2-14).
    @Test(arguments: [4, 5] as [UInt8])
    func willQoS3IsMalformed(_ level: UInt8) {
        let will = (level == 5 ? [0x00] : []) + Wire.string("w") + Wire.string("x")
        expectDecodingError(
            Self.connect(level: level, flags: 0x1E, payload: Wire.string("id"), will), version: nil,
            .invalidWillFlags, .malformedPacket)
    }

    /// MQTT-3.1.2-22 (3.1.1): a password needs a user name. 3.1 has the same rule.
    @Test(arguments: [3, 4] as [UInt8])
    func aPasswordWithoutAUserNameIsAProtocolErrorBefore5(_ level: UInt8) {
        expectDecodingError(
            Self.connect(name: level == 3 ? "MQIsdp" : "MQTT", level: level, flags: 0x42, payload: Wire.string("id"), Wire.string("pw")),
            version: nil, .passwordWithoutUserName, .protocolError)
    }

    /// 5.0 dropped that rule (3.1.2.9): a password alone may carry a credential other than a password.
    @Test func aPasswordWithoutAUserNameIsAllowedIn5() throws {
        let packet = try decodePacket(Self.connect(level: 5, flags: 0x42, payload: Wire.string("id"), Wire.string("pw")), version: nil)
        #expect(packet == .connect(ConnectPacket(
            protocolVersion: .v5, clientIdentifier: "id", cleanStart: true, keepAlive: 60, userName: nil,
            password: ByteBuffer(string: "pw"))))
    }

    /// A zero-length client identifier is valid on the wire (MQTT-3.1.3-6 / 5.0 3.1.3.1); whether to assign one is
    /// the server's decision.
    @Test func anEmptyClientIdentifierDecodes() throws {
        let packet = try decodePacket(Self.connect(level: 4, flags: 0x02, payload: Wire.string("")), version: nil)
        #expect(packet == .connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "", cleanStart: true)))
    }
}
