import MQTT
import NIOConcurrencyHelpers
import NIOCore
@testable import StarlingBroker
import Testing

/// A subscription holds on every loop from the moment its SUBSCRIBE has been handled, not only once each loop
/// has run the task that carries it there: a message routed on another loop in between reaches it.
@Suite struct SubscriptionVisibilityTests {
    @Test func aMessageRoutedOnAnotherLoopRightAfterASubscribeReachesIt() async throws {
        try await TestBroker.with(loops: 2) { broker in
            let core = broker.broker.core
            let subscriber = try await broker.client("subscriber", version: .v5)
            let session = try #require(core.sessions.withLockedValue { $0[ExactString("subscriber")] })
            let other = core.loops[1 - session.homeIndex.load(ordering: .acquiring)]
            // The other loop is held by a task of its own, so the task carrying the subscription there waits
            // behind it; once let go, the held task routes a message on that loop first.
            let release = ConditionLock(value: 0)
            let routed = other.eventLoop.submit { () -> Int in
                release.lock(whenValue: 1)
                release.unlock()
                let copies = other.route(Message(
                    topic: "across/loops", payload: ByteBuffer(string: "m"), qos: .atMostOnce, retain: false,
                    properties: [], publisher: nil, expiry: nil))
                other.flush()
                return copies
            }
            try await subscriber.send(.subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [.init(topicFilter: "across/#", options: SubscriptionOptions())])))
            // The subscriber's loop has handled the SUBSCRIBE once the change waits for the other loop.
            let deadline = ContinuousClock.now + .seconds(20)
            while !core.pendingSubscriptionChanges.any {
                guard ContinuousClock.now < deadline else { throw RawClient.Failure(description: "SUBSCRIBE not handled within 20 s") }
                try await Task.sleep(for: .milliseconds(5))
            }
            release.lock()
            release.unlock(withValue: 1)
            #expect(try await routed.get() == 1)
            var received: [Packet] = []
            while received.count < 2 { received.append(try await subscriber.nextPacket()) }
            #expect(received.contains { if case .publish(let publish) = $0 { publish.topic == "across/loops" } else { false } })
        }
    }
}
