import MQTT
import NIOCore
import NIOEmbedded
import PropertyBased
import Testing

/// Encoding then decoding any valid packet gives it back, in every protocol version.
@Suite struct RoundTripTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var type: PacketType
        var version: ProtocolVersion
        var testDescription: String { "\(type) in \(version)" }
    }

    /// Every packet type in every version it exists in: AUTH is MQTT 5.0 only.
    static let cases: [Case] = ProtocolVersion.allCases.flatMap { version in
        PacketType.allCases.filter { $0 != .auth || version == .v5 }.map { Case(type: $0, version: version) }
    }

    @Test(arguments: cases)
    func encodeThenDecodeGivesThePacketBack(_ testCase: Case) async {
        let version = testCase.version
        await propertyCheck(count: 500, input: Gen.valid(testCase.type, version: version)) { packet in
            do {
                let encoded = try packet.encoded(version: version)
                #expect(encoded.readableBytes == packet.encodedSize(version: version))

                var decoder = PacketDecoder(version: version)
                var input = encoded
                let decoded = try decoder.decode(buffer: &input)
                #expect(decoded == packet)
                #expect(input.readableBytes == 0)
                // The encoding is canonical: decoding and encoding again changes no byte.
                #expect(try decoded?.encoded(version: version) == encoded)
            } catch {
                Issue.record(error, "\(packet)")
            }
        }
    }

    /// A decoded CONNECT fixes the version the rest of the stream is read in, whatever the decoder assumed.
    @Test(arguments: ProtocolVersion.allCases)
    func decodedConnectSetsTheStreamVersion(_ version: ProtocolVersion) async {
        await propertyCheck(count: 100, input: Gen.valid(.connect, version: version)) { connect in
            do {
                var decoder = PacketDecoder(version: nil)
                var buffer = try connect.encoded(version: version)
                #expect(try decoder.decode(buffer: &buffer) == connect)
                #expect(decoder.version == version)
            } catch {
                Issue.record(error)
            }
        }
    }

    /// Packets written through `PacketEncoder` in a pipeline come out of `PacketDecoder` in order, the whole
    /// stream read from one buffer.
    @Test(arguments: ProtocolVersion.allCases)
    func aStreamOfPacketsThroughTheChannelHandlers(_ version: ProtocolVersion) async {
        let types = PacketType.allCases.filter { $0 != .connect && ($0 != .auth || version == .v5) }
        let streams = Generator { rng in
            (0..<200).map { _ in makeValidPacket(types.randomElement(using: &rng)!, version: version, using: &rng) }
        }
        await propertyCheck(count: 5, input: streams) { packets in
            do {
                let encoder = EmbeddedChannel(handler: MessageToByteHandler(PacketEncoder(version: version)))
                var stream = ByteBuffer()
                for packet in packets {
                    try encoder.writeOutbound(packet)
                    var bytes = try #require(try encoder.readOutbound(as: ByteBuffer.self))
                    stream.writeBuffer(&bytes)
                }
                #expect(try encoder.finish().isClean)

                let decoder = EmbeddedChannel(handler: ByteToMessageHandler(PacketDecoder(version: version)))
                try decoder.writeInbound(stream)
                for packet in packets {
                    #expect(try decoder.readInbound(as: Packet.self) == packet)
                }
                #expect(try decoder.readInbound(as: Packet.self) == nil)
                #expect(try decoder.finish().isClean)
            } catch {
                Issue.record(error)
            }
        }
    }
}
