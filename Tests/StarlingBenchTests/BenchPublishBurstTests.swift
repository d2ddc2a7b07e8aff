import MQTT
import NIOCore
import Testing

@testable import StarlingBench

@Suite struct BenchPublishBurstTests {
    /// The burst's bytes decoded by the MQTT library's own decoder.
    static func decode(_ bytes: ByteBuffer, version: ProtocolVersion) throws -> [PublishPacket] {
        var decoder = PacketDecoder(version: version)
        var buffer = bytes
        var packets: [PublishPacket] = []
        while let packet = try decoder.decode(buffer: &buffer) {
            guard case .publish(let publish) = packet else {
                Issue.record("not a PUBLISH: \(packet)")
                continue
            }
            packets.append(publish)
        }
        #expect(buffer.readableBytes == 0)
        return packets
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func aQoS0BurstIsValidPublishPacketsWithConsecutiveSequenceNumbers(version: ProtocolVersion) throws {
        let burst = BenchPublishBurst(topic: "bench/fanin/4", qos: 0, publisher: 4, payloadSize: 64, version5: version == .v5)
        var buffer = ByteBuffer()
        var identifier: UInt16 = 0
        burst.write(count: 3, firstSequence: 10, sentAt: 555, lastIdentifier: &identifier, to: &buffer)
        #expect(buffer.readableBytes == 3 * burst.packetSize)
        let packets = try Self.decode(buffer, version: version)
        #expect(packets.map(\.topic) == Array(repeating: "bench/fanin/4", count: 3))
        #expect(packets.map(\.qos) == [.atMostOnce, .atMostOnce, .atMostOnce])
        #expect(packets.map(\.packetIdentifier) == [nil, nil, nil])
        #expect(packets.map(\.payload.readableBytes) == [64, 64, 64])
        #expect(packets.map { BenchPayload.read($0.payload) } == (10...12).map { .init(sequence: $0, publisher: 4, sentAt: 555) })
        #expect(identifier == 0)
    }

    @Test func qos1PacketIdentifiersFollowOnAndSkipZero() throws {
        let burst = BenchPublishBurst(topic: "t", qos: 1, publisher: 0, payloadSize: 20, version5: false)
        var buffer = ByteBuffer()
        var identifier: UInt16 = 65534
        burst.write(count: 3, firstSequence: 0, sentAt: 1, lastIdentifier: &identifier, to: &buffer)
        let packets = try Self.decode(buffer, version: .v3_1_1)
        #expect(packets.map(\.packetIdentifier) == [65535, 1, 2])
        #expect(packets.map(\.qos) == [.atLeastOnce, .atLeastOnce, .atLeastOnce])
        #expect(identifier == 2)
    }

    @Test func aBurstAppendsAfterWhatTheBufferHolds() throws {
        let burst = BenchPublishBurst(topic: "x", qos: 2, publisher: 1, payloadSize: 100, version5: true)
        var buffer = ByteBuffer()
        var identifier: UInt16 = 0
        burst.write(count: 1, firstSequence: 0, sentAt: 1, lastIdentifier: &identifier, to: &buffer)
        burst.write(count: 2, firstSequence: 1, sentAt: 2, lastIdentifier: &identifier, to: &buffer)
        let packets = try Self.decode(buffer, version: .v5)
        #expect(packets.map(\.packetIdentifier) == [1, 2, 3])
        #expect(packets.map { BenchPayload.read($0.payload)?.sequence } == [0, 1, 2])
        #expect(packets.map { BenchPayload.read($0.payload)?.sentAt } == [1, 2, 2])
    }

    @Test func aPayloadOver127BytesGetsATwoByteRemainingLength() throws {
        let burst = BenchPublishBurst(topic: "topic", qos: 0, publisher: 2, payloadSize: 1000, version5: false)
        #expect(burst.packetSize == 1 + 2 + 2 + 5 + 1000)
        var buffer = ByteBuffer()
        var identifier: UInt16 = 0
        burst.write(count: 1, firstSequence: 42, sentAt: 9, lastIdentifier: &identifier, to: &buffer)
        let packets = try Self.decode(buffer, version: .v3_1_1)
        #expect(packets.first?.payload.readableBytes == 1000)
        #expect(packets.first.flatMap { BenchPayload.read($0.payload) } == .init(sequence: 42, publisher: 2, sentAt: 9))
    }

    @Test func procStatTicksAreUserPlusSystemTime() {
        // The command name may hold spaces and parentheses; fields are counted after its closing one.
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 1000 50\n"
        #expect(ProcessCPU.parseTicks(line) == 325)
        #expect(ProcessCPU.parseTicks("garbage") == nil)
    }
}
