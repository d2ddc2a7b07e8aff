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

    /// Once `limit` messages wait for the loop, `forward` says so, and `waitForRoom` returns once the loop has
    /// taken them.
    @Test func aFullInboxHoldsItsReaderUntilTheLoopHasTakenWhatWaits() async throws {
        try await TestBroker.with(loops: 1) { broker in
            let inbox: ClusterInbox<Int> = broker.broker.clusterInbox(fromNode: "other", limit: 10) { _, _ in }
            let release = DispatchSemaphore(value: 0)
            broker.group.next().execute { release.wait() }
            var accepted: [Bool] = []
            for index in 0..<10 {
                accepted.append(inbox.forward(Message(topic: "c/\(index)", payload: ByteBuffer(string: "m")), token: index))
            }
            #expect(accepted == Array(repeating: true, count: 9) + [false])
            let reader = Task {
                await inbox.waitForRoom()
                return inbox.forward(Message(topic: "c/after", payload: ByteBuffer(string: "m")), token: 10)
            }
            release.signal()
            #expect(await reader.value == true)
        }
    }
}
