import Dispatch
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// `MQTTBroker.clusterInbox`: what another node forwards is routed in order, and what arrives while the event loop
/// is busy is routed in one batch.
@Suite(.timeLimit(.minutes(1))) struct ClusterInboxTests {
    @Test func messagesThatArriveWhileTheLoopIsBusyAreRoutedTogetherInOrder() async throws {
        try await TestBroker.with(loops: 1) { broker in
            let subscriber = try await broker.client("subscriber", version: .v5)
            _ = try await subscriber.subscribe("c/#")
            let batches = NIOLockedValueBox<[[Int]]>([])
            let (finished, finish) = AsyncStream.makeStream(of: Void.self)
            let inbox: ClusterInbox<Int> = broker.broker.clusterInbox(fromNode: "other") { tokens, result in
                #expect((try? result.get()) != nil)
                let total = batches.withLockedValue { batches in
                    batches.append(tokens)
                    return batches.joined().count
                }
                if total == 100 { finish.yield() }
            }
            // The broker's one loop waits until all 100 are given.
            let release = DispatchSemaphore(value: 0)
            broker.group.next().execute { release.wait() }
            for index in 0..<100 {
                inbox.forward(Message(topic: "c/\(index)", payload: ByteBuffer(string: "\(index)"), qos: .atMostOnce), token: index)
            }
            release.signal()
            for await _ in finished { break }
            #expect(batches.withLockedValue { $0 } == [Array(0..<100)])
            var topics: [String] = []
            for _ in 0..<100 { topics.append(try await subscriber.expectPublish().topic) }
            #expect(topics == (0..<100).map { "c/\($0)" })
        }
    }
}
