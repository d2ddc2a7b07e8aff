import MQTT
import NIOCore
import NIOEmbedded
import Testing

/// Packets split across reads at any byte, and several packets in one read, decode as if whole and one at a time.
@Suite struct FragmentationTests {
    @Test(arguments: FixtureExpectation.all)
    func oneByteAtATimeThroughThePacketDecoder(_ fixture: FixtureExpectation) throws {
        let bytes = try Fixture.bytes(fixture.name)
        var decoder = PacketDecoder(version: fixture.version)
        var buffer = ByteBuffer()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let packet = try decoder.decode(buffer: &buffer)
            if index < bytes.count - 1 {
                #expect(packet == nil, "decoded after \(index + 1) of \(bytes.count) bytes")
                #expect(buffer.readableBytes == index + 1, "an incomplete packet must consume nothing")
            } else {
                #expect(packet == fixture.packet)
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test(arguments: FixtureExpectation.all)
    func oneByteAtATimeThroughAByteToMessageHandler(_ fixture: FixtureExpectation) throws {
        let bytes = try Fixture.bytes(fixture.name)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PacketDecoder(version: fixture.version)))
        for byte in bytes.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            #expect(try channel.readInbound(as: Packet.self) == nil)
        }
        try channel.writeInbound(ByteBuffer(bytes: [bytes.last!]))
        #expect(try channel.readInbound(as: Packet.self) == fixture.packet)
        #expect(try channel.readInbound(as: Packet.self) == nil)
        #expect(try channel.finish().isClean)
    }

    /// Each client's session in one version, CONNECT first and DISCONNECT last, as one byte stream. The decoder
    /// starts without a version: the CONNECT sets it, so the 5.0 packets after it are read as 5.0.
    static var sessions: [[FixtureExpectation]] {
        var sessions: [String: [FixtureExpectation]] = [:]
        for fixture in FixtureExpectation.all {
            let client = fixture.name.split(separator: "-").prefix(2).joined(separator: "-")
            sessions[client, default: []].append(fixture)
        }
        return sessions.keys.sorted().map { key in
            sessions[key]!.sorted { rank($0.packet) < rank($1.packet) }
        }
    }

    private static func rank(_ packet: Packet) -> Int {
        switch packet {
        case .connect: 0
        case .disconnect: 2
        default: 1
        }
    }

    @Test(arguments: sessions)
    func aSessionInOneBufferDecodesInOrder(_ session: [FixtureExpectation]) throws {
        var stream = ByteBuffer()
        for fixture in session { stream.writeBytes(try Fixture.bytes(fixture.name)) }

        var decoder = PacketDecoder(version: nil)
        var decoded: [Packet] = []
        while let packet = try decoder.decode(buffer: &stream) { decoded.append(packet) }
        #expect(decoded == session.map(\.packet))
        #expect(stream.readableBytes == 0)
        #expect(decoder.version == session.first?.version)
    }

    /// The same streams through a channel, cut into chunks of every size from one byte to the whole stream.
    @Test(arguments: sessions)
    func aSessionInChunksThroughAByteToMessageHandler(_ session: [FixtureExpectation]) throws {
        var bytes: [UInt8] = []
        for fixture in session { bytes += try Fixture.bytes(fixture.name) }

        for chunkSize in 1...bytes.count {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(PacketDecoder(version: nil)))
            for start in stride(from: 0, to: bytes.count, by: chunkSize) {
                try channel.writeInbound(ByteBuffer(bytes: bytes[start..<min(start + chunkSize, bytes.count)]))
            }
            var decoded: [Packet] = []
            while let packet = try channel.readInbound(as: Packet.self) { decoded.append(packet) }
            #expect(decoded == session.map(\.packet), "chunks of \(chunkSize) bytes")
            #expect(try channel.finish().isClean)
        }
    }

    /// A packet that follows a complete one in the same buffer is left for the next call, even if it is partial.
    @Test func aPartialPacketAfterACompleteOneIsLeftInTheBuffer() throws {
        var decoder = PacketDecoder(version: .v3_1_1)
        var buffer = ByteBuffer(bytes: [0xC0, 0x00, 0x40, 0x02, 0x00])
        #expect(try decoder.decode(buffer: &buffer) == .pingReq)
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 3)
        buffer.writeInteger(UInt8(0x07))
        #expect(try decoder.decode(buffer: &buffer) == .pubAck(AcknowledgementPacket(packetIdentifier: 7)))
    }
}
