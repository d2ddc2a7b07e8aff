import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// A subscriber that keeps reading loses nothing, however large the messages and however many publishers feed
/// it: its socket taking less than they send at any moment is no reason to drop. Each test counts messages,
/// never time.
@Suite struct LargePayloadLossTests {
    static let publishers = 4
    /// 4 × 48 messages of 256 KiB: 48 MiB, dozens of times what the sockets between broker and subscriber hold.
    static let messagesPerPublisher = 48
    static let payloadSize = 256 * 1_024

    /// The limits of the Mosquitto configuration the large-payload fan-in is compared with
    /// (`max_queued_messages 100000`), and the default byte limit.
    @Test func aReadingSubscriberLosesNothingFromFourQoS0PublishersOf256KiB() async throws {
        try await TestBroker.with({
            $0.limits.maximumQueuedMessages = 100_000
            $0.limits.flowControl?.maximumQueued = 100_000
        }) { broker in
            let subscriber = try await broker.client("subscriber", version: .v3_1_1)
            try await subscriber.subscribe("big/#")
            var clients: [RawClient] = []
            for index in 0..<Self.publishers {
                clients.append(try await broker.client("publisher-\(index)", version: .v3_1_1))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask { try await Self.publish(from: client, index: index) }
                }
                // Each publisher's messages arrive in its order, ended by a small marker on the same topic.
                var received = Array(repeating: 0, count: Self.publishers)
                var ended = 0
                while ended < Self.publishers {
                    let publish = try await subscriber.expectPublish()
                    let index = try #require(Int(publish.topic.dropFirst("big/".count)))
                    if publish.payload.readableBytes == 3 {
                        #expect(received[index] == Self.messagesPerPublisher, "publisher \(index) ended after \(received[index])")
                        ended += 1
                        continue
                    }
                    let sequence = publish.payload.getInteger(at: publish.payload.readerIndex, as: UInt32.self)
                    #expect(sequence == UInt32(received[index]) && publish.payload.readableBytes == Self.payloadSize)
                    received[index] += 1
                }
                try await group.waitForAll()
                #expect(received == Array(repeating: Self.messagesPerPublisher, count: Self.publishers))
            }
            let statistics = try await broker.broker.statistics()
            #expect(statistics.messagesDropped == 0)
            #expect(statistics.drops == MessageDrops())
        }
    }

    static func publish(from client: RawClient, index: Int) async throws {
        let topic = "big/\(index)"
        for sequence in 0..<messagesPerPublisher {
            var payload = ByteBuffer(repeating: UInt8(0x41 + index), count: payloadSize)
            payload.setInteger(UInt32(sequence), at: 0)
            try await client.send(.publish(PublishPacket(topic: topic, payload: payload)))
        }
        try await client.send(.publish(PublishPacket(topic: topic, payload: ByteBuffer(string: "end"))))
    }
}
