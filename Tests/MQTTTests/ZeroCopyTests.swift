import MQTT
import NIOCore
import Testing

/// A decoded PUBLISH payload (and other binary data) is a slice of the buffer it was read from, not a copy.
@Suite struct ZeroCopyTests {
    /// The address of the first readable byte.
    private func address(of buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test(arguments: ["mosquitto-v311-publish-qos1", "paho-v5-publish-qos2-properties"])
    func aPublishPayloadSharesTheInputStorage(_ name: String) throws {
        let bytes = try Fixture.bytes(name)
        var input = ByteBuffer(bytes: bytes)
        let start = address(of: input)
        var decoder = PacketDecoder(version: name.contains("-v5-") ? .v5 : .v3_1_1)
        guard case .publish(let publish) = try decoder.decode(buffer: &input) else {
            Issue.record("not a PUBLISH")
            return
        }
        // The payload is the last bytes of the packet; a copy would live at some other address.
        #expect(address(of: publish.payload) == start + UInt(bytes.count - publish.payload.readableBytes))
        #expect(publish.payload.readableBytes == 6)
    }

    @Test func correlationDataSharesTheInputStorage() throws {
        let bytes = try Fixture.bytes("mqttjs-v5-publish-qos0-properties")
        var input = ByteBuffer(bytes: bytes)
        let start = address(of: input)
        var decoder = PacketDecoder(version: .v5)
        guard case .publish(let publish) = try decoder.decode(buffer: &input),
            let correlationData = publish.properties.correlationData
        else {
            Issue.record("not a PUBLISH with correlation data")
            return
        }
        let offset = try #require(bytes.firstRange(of: Array("corr-1".utf8))?.lowerBound)
        #expect(address(of: correlationData) == start + UInt(offset))
    }

    @Test func willPayloadAndPasswordShareTheInputStorage() throws {
        let bytes = try Fixture.bytes("paho-v311-connect-will-credentials")
        var input = ByteBuffer(bytes: bytes)
        let start = address(of: input)
        var decoder = PacketDecoder(version: nil)
        guard case .connect(let connect) = try decoder.decode(buffer: &input),
            let will = connect.will, let password = connect.password
        else {
            Issue.record("not a CONNECT with will and password")
            return
        }
        #expect(address(of: will.payload) == start + UInt(try #require(bytes.firstRange(of: Array("bye".utf8))?.lowerBound)))
        #expect(address(of: password) == start + UInt(bytes.count - 4))
    }

    /// Slices keep the storage alive and isolated: changing the input afterwards does not reach a decoded payload.
    @Test func aPayloadIsUnaffectedByLaterWritesToTheInput() throws {
        var input = ByteBuffer(bytes: try Fixture.bytes("mqttjs-v311-publish-qos0"))
        var decoder = PacketDecoder(version: .v3_1_1)
        guard case .publish(let publish) = try decoder.decode(buffer: &input) else {
            Issue.record("not a PUBLISH")
            return
        }
        input.clear()
        input.writeRepeatingByte(0xFF, count: 64)
        #expect(publish.payload == ByteBuffer(string: "hello0"))
    }
}
