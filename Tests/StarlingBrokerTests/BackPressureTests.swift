import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// A subscriber that stops reading: what its socket cannot take waits in its session, its publisher is slowed
/// down, and it all goes out, in order, once it reads again. Output is written per burst from buffers the loop reuses, and a socket that
/// becomes writable again flushes in the middle of another flush; neither may lose or reorder a message.
@Suite struct BackPressureTests {
    /// Payloads below and above the size from which a payload is written by reference instead of copied.
    @Test(arguments: [1_024, 16_384])
    func aSubscriberThatStopsReadingGetsEverythingOnceItReadsAgain(payloadSize: Int) async throws {
        // Well beyond what the sockets between broker and subscriber take before the broker's channel stops being
        // writable: about 1 MB on loopback, where twice this volume made it stop 21 times.
        let count = 12_000_000 / payloadSize
        let batch = 100
        try await TestBroker.with({
            $0.limits.maximumInflight = 65_535
            $0.limits.maximumQueuedMessages = count
            // Low enough that the publisher is slowed in both cases, once the socket stops taking messages.
            $0.limits.flowControl = FlowControl(highWater: 100, lowWater: 50)
        }) { broker in
            let subscriber = try await broker.client("subscriber")
            try await subscriber.subscribe("pressure/t", qos: .atLeastOnce)
            try await subscriber.setReading(false)
            let publisher = try await broker.client("publisher")
            let publishing = Task {
                for first in stride(from: 0, to: count, by: batch) {
                    let packets = (first..<min(first + batch, count)).map { sequence in
                        var payload = ByteBuffer(repeating: 0x2A, count: payloadSize)
                        payload.setInteger(UInt32(sequence), at: 0)
                        return Packet.publish(PublishPacket(
                            topic: "pressure/t", payload: payload, qos: .atLeastOnce, packetIdentifier: UInt16(sequence % batch + 1)))
                    }
                    try await publisher.send(packets)
                    for _ in packets { _ = try await publisher.expectPubAck() }
                }
            }
            // The publisher waits for the subscriber from here on, rather than the broker dropping what it sent.
            // It comes once about 1 MB is published, 0.5 s alone but far longer beside the whole suite on 2 cores.
            try await broker.waitForStatistics("publisher slowed", timeout: .seconds(180)) { $0.flowControl.publishersSlowed > 0 }

            try await subscriber.setReading(true)
            var acknowledgements: [Packet] = []
            for expected in 0..<count {
                let delivered = try await subscriber.expectPublish()
                let sequence = delivered.payload.getInteger(at: delivered.payload.readerIndex, as: UInt32.self)
                guard sequence == UInt32(expected), delivered.payload.readableBytes == payloadSize else {
                    Issue.record("message \(expected) arrived as \(String(describing: sequence)), \(delivered.payload.readableBytes) bytes")
                    return
                }
                acknowledgements.append(.pubAck(AcknowledgementPacket(packetIdentifier: try #require(delivered.packetIdentifier))))
                if acknowledgements.count == batch {
                    try await subscriber.send(acknowledgements)
                    acknowledgements.removeAll()
                }
            }
            try await publishing.value
            let statistics = try await broker.broker.statistics()
            #expect(statistics.messagesDropped == 0)
            #expect(statistics.messagesSent == UInt64(count))
        }
    }
}
