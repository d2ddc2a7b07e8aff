import MQTT
import NIOCore
import Testing

@testable import StarlingBench

@Suite struct BenchInboundPacketTests {
    static func payload(sequence: UInt64, publisher: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        BenchPayload.write(.init(sequence: sequence, publisher: publisher, sentAt: 1_000 + sequence), size: 64, to: &buffer)
        return buffer
    }

    /// A broker's side of a run, encoded by the MQTT library: what the scanner must read.
    static func stream(version: ProtocolVersion) throws -> (bytes: ByteBuffer, expected: [BenchInboundPacket]) {
        var properties: Properties = []
        if version == .v5 { properties = [.messageExpiryInterval(60)] }
        let packets: [(Packet, BenchInboundPacket)] = [
            (.connAck(ConnAckPacket(reasonCode: .success)), .connAck(code: 0)),
            (.subAck(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1])), .subAck(refused: nil)),
            (.publish(PublishPacket(topic: "bench/fanin/3", payload: payload(sequence: 7, publisher: 3), qos: .atMostOnce, properties: properties)),
                .publish(qos: 0, packetIdentifier: 0, header: .init(sequence: 7, publisher: 3, sentAt: 1_007))),
            (.publish(PublishPacket(topic: "b", payload: payload(sequence: 8, publisher: 0), qos: .atLeastOnce, packetIdentifier: 513, properties: properties)),
                .publish(qos: 1, packetIdentifier: 513, header: .init(sequence: 8, publisher: 0, sentAt: 1_008))),
            (.publish(PublishPacket(topic: String(repeating: "t", count: 200), payload: ByteBuffer(bytes: [1, 2, 3]), qos: .exactlyOnce, packetIdentifier: 9)),
                .publish(qos: 2, packetIdentifier: 9, header: nil)),
            (.pubAck(AcknowledgementPacket(packetIdentifier: 65535)), .pubAck(65535)),
            (.pubRec(AcknowledgementPacket(packetIdentifier: 2)), .pubRec(2)),
            (.pubRel(AcknowledgementPacket(packetIdentifier: 3)), .pubRel(3)),
            (.pubComp(AcknowledgementPacket(packetIdentifier: 4)), .pubComp(4)),
            (.pingResp, .other(type: 13)),
            (.publish(PublishPacket(topic: "big", payload: ByteBuffer(repeating: 0, count: 20_000), qos: .atMostOnce)),
                .publish(qos: 0, packetIdentifier: 0, header: .init(sequence: 0, publisher: 0, sentAt: 0))),
        ]
        var bytes = ByteBuffer()
        for (packet, _) in packets { try packet.write(to: &bytes, version: version) }
        return (bytes, packets.map(\.1))
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func everyPacketOfAStreamIsReadInPlace(version: ProtocolVersion) throws {
        var (bytes, expected) = try Self.stream(version: version)
        var read: [BenchInboundPacket] = []
        while let packet = try BenchInboundPacket.scan(&bytes, version5: version == .v5) { read.append(packet) }
        #expect(read == expected)
        #expect(bytes.readableBytes == 0)
    }

    @Test func anIncompletePacketLeavesTheReaderIndexWhereItWas() throws {
        let (bytes, _) = try Self.stream(version: .v3_1_1)
        for length in [0, 1, 3] {
            var prefix = bytes.getSlice(at: 0, length: length)!
            #expect(try BenchInboundPacket.scan(&prefix, version5: false) == nil)
            #expect(prefix.readerIndex == 0)
        }
        // A remaining length cut after its first byte.
        var cut = ByteBuffer(bytes: [0x30, 0x80])
        #expect(try BenchInboundPacket.scan(&cut, version5: false) == nil)
        #expect(cut.readerIndex == 0)
    }

    @Test func aRemainingLengthOfFiveBytesIsMalformed() {
        var bytes = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(throws: BenchInboundPacket.ScanError.malformed) { try BenchInboundPacket.scan(&bytes, version5: false) }
    }

    @Test func aPublishShorterThanItsTopicIsMalformed() {
        var bytes = ByteBuffer(bytes: [0x30, 0x03, 0x00, 0x09, 0x61])
        #expect(throws: BenchInboundPacket.ScanError.malformed) { try BenchInboundPacket.scan(&bytes, version5: false) }
    }

    @Test func aRefusedSubscriptionIsReported() throws {
        var bytes = ByteBuffer()
        try Packet.subAck(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS0, .notAuthorized])).write(to: &bytes, version: .v5)
        #expect(try BenchInboundPacket.scan(&bytes, version5: true) == .subAck(refused: 0x87))
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func theReaderFindsTheSamePacketsWhereverTheStreamIsCut(version: ProtocolVersion) throws {
        let (bytes, expected) = try Self.stream(version: version)
        let all = Array(bytes.readableBytesView)
        // Every cut into two reads, then reads of a few odd sizes, including one byte at a time.
        var splits: [[Int]] = (0...all.count).map { [$0, all.count - $0] }
        for size in [1, 2, 7, 100, 4096] {
            splits.append(Array(repeating: size, count: all.count / size) + [all.count % size])
        }
        for split in splits {
            var reader = BenchPacketReader(version5: version == .v5)
            var read: [BenchInboundPacket] = []
            var offset = 0
            for length in split {
                try reader.read(ByteBuffer(bytes: all[offset..<offset + length])) { read.append($0) }
                offset += length
            }
            #expect(read == expected, "reads of \(split.prefix(3))…")
            #expect(reader.pendingBytes == 0)
        }
    }

    @Test func theReaderKeepsOnlyTheCutPacket() throws {
        let (bytes, _) = try Self.stream(version: .v3_1_1)
        var reader = BenchPacketReader(version5: false)
        var count = 0
        // Everything but the last byte: the last packet (20,000 bytes of payload) is the one kept.
        try reader.read(bytes.getSlice(at: 0, length: bytes.readableBytes - 1)!) { _ in count += 1 }
        #expect(count == 10)
        // Fixed header (1 + 3 bytes of remaining length), topic length and "big", the payload; less the byte cut off.
        #expect(reader.pendingBytes == 1 + 3 + 2 + 3 + 20_000 - 1)
    }

    @Test func aCutPacketIsCompletedWithoutKeepingTheNextRead() throws {
        let (bytes, expected) = try Self.stream(version: .v3_1_1)
        let all = Array(bytes.readableBytesView)
        var reader = BenchPacketReader(version5: false)
        var read: [BenchInboundPacket] = []
        // Cut inside the first PUBLISH's header, then a read that completes it and ends inside the big one.
        try reader.read(ByteBuffer(bytes: all[0..<10])) { read.append($0) }
        try reader.read(ByteBuffer(bytes: all[10..<(all.count - 5)])) { read.append($0) }
        #expect(read == Array(expected.dropLast()))
        #expect(reader.pendingBytes == 1 + 3 + 2 + 3 + 20_000 - 5)
        try reader.read(ByteBuffer(bytes: all[(all.count - 5)...])) { read.append($0) }
        #expect(read == expected)
        #expect(reader.pendingBytes == 0)
    }

    @Test func returnCodesOfVersion3MapToReasonCodes() {
        #expect(!BenchConnection.reasonCode(ofReturnCode: 0).isFailure)
        #expect(BenchConnection.reasonCode(ofReturnCode: 5) == .notAuthorized)
        #expect(BenchConnection.reasonCode(ofReturnCode: 4) == .badUserNameOrPassword)
        #expect(BenchConnection.reasonCode(ofReturnCode: 9).isFailure)
    }
}
