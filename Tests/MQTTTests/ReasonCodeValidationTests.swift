import MQTT
import Testing

/// Each packet type accepts exactly the reason codes its table in the 5.0 specification lists (MQTT-3.2.2-8,
/// MQTT-3.4.2-1, MQTT-3.5.2-1, MQTT-3.6.2-1, MQTT-3.7.2-1, MQTT-3.9.3-2, MQTT-3.11.3-2, MQTT-3.14.2-1,
/// MQTT-3.15.2-1), and 3.1.1 packets their return codes (3.2.2.3, 3.9.3).
@Suite struct ReasonCodeValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var version: ProtocolVersion
        var valid: [UInt8]
        var packet: @Sendable (UInt8) -> [UInt8]
        var reasonCode: @Sendable (Packet) -> ReasonCode?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "CONNACK", version: .v5, valid: SpecificationReasonCodes.connAck, packet: { [0x20, 0x03, 0x00, $0, 0x00] }) {
            if case .connAck(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "PUBACK", version: .v5, valid: SpecificationReasonCodes.publishAcknowledgement, packet: { [0x40, 0x03, 0x00, 0x01, $0] }) {
            if case .pubAck(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "PUBREC", version: .v5, valid: SpecificationReasonCodes.publishAcknowledgement, packet: { [0x50, 0x03, 0x00, 0x01, $0] }) {
            if case .pubRec(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "PUBREL", version: .v5, valid: SpecificationReasonCodes.releaseAcknowledgement, packet: { [0x62, 0x03, 0x00, 0x01, $0] }) {
            if case .pubRel(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "PUBCOMP", version: .v5, valid: SpecificationReasonCodes.releaseAcknowledgement, packet: { [0x70, 0x04, 0x00, 0x01, $0, 0x00] }) {
            if case .pubComp(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "SUBACK", version: .v5, valid: SpecificationReasonCodes.subAck, packet: { [0x90, 0x05, 0x00, 0x01, 0x00, 0x00, $0] }) {
            if case .subAck(let p) = $0 { p.reasonCodes.last } else { nil }
        },
        Case(name: "UNSUBACK", version: .v5, valid: SpecificationReasonCodes.unsubAck, packet: { [0xB0, 0x04, 0x00, 0x01, 0x00, $0] }) {
            if case .unsubAck(let p) = $0 { p.reasonCodes.last } else { nil }
        },
        Case(name: "DISCONNECT", version: .v5, valid: SpecificationReasonCodes.disconnect, packet: { [0xE0, 0x01, $0] }) {
            if case .disconnect(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "AUTH", version: .v5, valid: SpecificationReasonCodes.auth, packet: { [0xF0, 0x02, $0, 0x00] }) {
            if case .auth(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "3.1.1 CONNACK", version: .v3_1_1, valid: SpecificationReasonCodes.connAckV3, packet: { [0x20, 0x02, 0x00, $0] }) {
            if case .connAck(let p) = $0 { p.reasonCode } else { nil }
        },
        Case(name: "3.1.1 SUBACK", version: .v3_1_1, valid: SpecificationReasonCodes.subAckV3, packet: { [0x90, 0x04, 0x00, 0x01, 0x01, $0] }) {
            if case .subAck(let p) = $0 { p.reasonCodes.last } else { nil }
        },
    ]

    @Test(arguments: cases)
    func onlyTheListedReasonCodesAreAccepted(_ testCase: Case) throws {
        for code in UInt8(0)...255 {
            let bytes = testCase.packet(code)
            if testCase.valid.contains(code) {
                let packet = try #require(try decodePacket(bytes, version: testCase.version))
                #expect(testCase.reasonCode(packet) == ReasonCode(rawValue: code))
            } else {
                expectDecodingError(bytes, version: testCase.version, .invalidReasonCode(code), .malformedPacket)
            }
        }
    }

    /// The 3.1.1 CONNACK return codes and the 5.0 reason codes that carry the same meaning.
    @Test func connectReturnCodesMapToReasonCodes() {
        #expect(ReasonCode.success.connectReturnCode == .accepted)
        #expect(ReasonCode.unsupportedProtocolVersion.connectReturnCode == .unacceptableProtocolVersion)
        #expect(ReasonCode.clientIdentifierNotValid.connectReturnCode == .identifierRejected)
        #expect(ReasonCode.badUserNameOrPassword.connectReturnCode == .badUserNameOrPassword)
        #expect(ReasonCode.notAuthorized.connectReturnCode == .notAuthorized)
        #expect(ReasonCode.serverUnavailable.connectReturnCode == .serverUnavailable)
        #expect(ReasonCode.connectionRateExceeded.connectReturnCode == .serverUnavailable)
        // Refusals of what the client sent have no 3.1.1 return code: the connection is closed instead.
        for reason in [ReasonCode.protocolError, .malformedPacket, .topicNameInvalid, .payloadFormatInvalid, .retainNotSupported, .qosNotSupported, .packetTooLarge] {
            #expect(reason.connectReturnCode == nil, "\(reason)")
        }
        #expect(ConnectReturnCode.allCases.map(\.reasonCode.rawValue) == [0, 1, 2, 3, 4, 5])
    }
}
