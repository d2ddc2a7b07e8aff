import MQTT
import NIOCore
import Testing

/// Packets captured from mosquitto, paho and MQTT.js decode to the values the fixture table lists and encode
/// back to the same bytes.
@Suite struct FixtureTests {
    @Test func theCatalogCoversEveryFixtureFile() throws {
        let catalogued = FixtureExpectation.all.map(\.name)
        #expect(Set(catalogued).count == catalogued.count, "a fixture is catalogued twice")
        #expect(Set(try Fixture.allNames()) == Set(catalogued))
    }

    @Test(arguments: FixtureExpectation.all)
    func decodesToTheTabulatedValues(_ fixture: FixtureExpectation) throws {
        let bytes = try Fixture.bytes(fixture.name)
        #expect(bytes.first == fixture.header)
        let lengthPrefix = Wire.variableByteInteger(fixture.remainingLength)
        #expect(Array(bytes.dropFirst().prefix(lengthPrefix.count)) == lengthPrefix)
        #expect(bytes.count == 1 + lengthPrefix.count + fixture.remainingLength)

        let packet = try #require(try decodePacket(bytes, version: fixture.version))
        #expect(packet == fixture.packet)

        if case .connect(let connect) = packet {
            // Protocol name, level and the connect flags byte 0xee as the table gives them.
            let nameLength = connect.protocolVersion.protocolName.utf8.count
            let header = Array(bytes[(1 + lengthPrefix.count)...])
            #expect(Array(header[0..<(2 + nameLength)]) == Wire.string(connect.protocolVersion.protocolName))
            #expect(header[2 + nameLength] == fixture.version.rawValue)
            #expect(header[3 + nameLength] == 0xEE)
        }
    }

    @Test(arguments: FixtureExpectation.all)
    func encodesBackToTheCapturedBytes(_ fixture: FixtureExpectation) throws {
        let captured = try Fixture.bytes(fixture.name).hex
        let encoded = try fixture.packet.encoded(version: fixture.version)
        #expect(encoded.hex == (fixture.canonicalHex ?? captured))
        #expect(fixture.packet.encodedSize(version: fixture.version) == encoded.readableBytes)
    }

    /// MQTT.js sends PUBREL as `62 03 <id> 00`: Success written out. 3.6.2.1: "The Reason Code and Property
    /// Length can be omitted if the Reason Code is 0x00 (Success) and there are no Properties", so it decodes to
    /// the same value as paho's `62 02 <id>`, and we write that short form.
    @Test func aPubRelWithAnExplicitSuccessReasonCodeIsReEncodedInTheShortForm() throws {
        let explicit = try Fixture.bytes("mqttjs-v5-pubrel")
        #expect(explicit == [0x62, 0x03, 0x00, 0x03, 0x00])
        let packet = try #require(try decodePacket(explicit, version: .v5))
        #expect(packet == .pubRel(AcknowledgementPacket(packetIdentifier: 3, reasonCode: .success, properties: [])))

        let short: [UInt8] = [0x62, 0x02, 0x00, 0x03]
        #expect([UInt8](try packet.encoded(version: .v5).readableBytesView) == short)
        #expect(try decodePacket(short, version: .v5) == packet)
    }
}
