import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// `BrokerHooks`: pre-connect, publish and subscribe authorization, and the observer; hooks that throw or
/// time out deny.
@Suite struct HookTests {
    struct Failure: Error {}

    struct Publishes: PublishAuthorizer {
        let decide: @Sendable (Message, ClientInfo) async throws -> PublishAuthorization
        func authorizePublish(_ message: Message, from client: ClientInfo) async throws -> PublishAuthorization {
            try await decide(message, client)
        }
    }

    struct Subscribes: SubscribeAuthorizer {
        let decide: @Sendable (String, SubscriptionOptions, ClientInfo) async throws -> SubscribeAuthorization
        func authorizeSubscribe(_ filter: String, options: SubscriptionOptions, for client: ClientInfo) async throws -> SubscribeAuthorization {
            try await decide(filter, options, client)
        }
    }

    struct Gate: PreConnectCheck {
        let decide: @Sendable (ClientInfo, ConnectPacket) async throws -> ReasonCode?
        func check(_ client: ClientInfo, connect: ConnectPacket) async throws -> ReasonCode? {
            try await decide(client, connect)
        }
    }

    /// Writes down what it is told, and lets a test wait for a number of calls.
    final class Recorder: BrokerObserver, Sendable {
        let calls = NIOLockedValueBox<[String]>([])
        let waiters = NIOLockedValueBox<[(Int, CheckedContinuation<Void, Never>)]>([])

        private func record(_ call: String) {
            let ready = calls.withLockedValue { calls -> [CheckedContinuation<Void, Never>] in
                calls.append(call)
                let count = calls.count
                return waiters.withLockedValue { waiters in
                    let due = waiters.filter { $0.0 <= count }.map(\.1)
                    waiters.removeAll { $0.0 <= count }
                    return due
                }
            }
            for continuation in ready { continuation.resume() }
        }

        func clientConnected(_ client: ClientInfo) async { record("connected \(client.clientIdentifier) \(client.userName ?? "-")") }
        func clientDisconnected(_ client: ClientInfo) async { record("disconnected \(client.clientIdentifier)") }
        func subscribed(_ client: ClientInfo, topicFilters: [String]) async { record("subscribed \(client.clientIdentifier) \(topicFilters)") }
        func unsubscribed(_ client: ClientInfo, topicFilters: [String]) async { record("unsubscribed \(client.clientIdentifier) \(topicFilters)") }
        func published(_ message: Message) async { record("published \(message.publisher ?? "-") \(message.topic)") }

        func waitFor(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let done = calls.withLockedValue { calls in
                    if calls.count >= count { return true }
                    waiters.withLockedValue { $0.append((count, continuation)) }
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    @Test func aPublishCanBeRewritten() async throws {
        let hook = Publishes { message, client in
            var rewritten = message
            rewritten.topic = "audited/\(client.clientIdentifier)/\(message.topic)"
            rewritten.payload = ByteBuffer(string: String(buffer: message.payload).uppercased())
            return .rewrite(rewritten)
        }
        try await TestBroker.with(hooks: BrokerHooks(publishAuthorizer: hook)) { broker in
            let subscriber = try await broker.client("s")
            try await subscriber.subscribe("audited/#")
            let publisher = try await broker.client("p")
            #expect(try await publisher.publishQoS1("room/1", "hello").reasonCode == .success)
            let received = try await subscriber.expectPublish()
            #expect(received.topic == "audited/p/room/1")
            #expect(received.payloadString == "HELLO")
        }
    }

    /// A refusal, an error and a timeout all end in PUBACK 0x87 (5.0), and the connection carries on in order.
    @Test(arguments: ["refuse", "throw", "timeout"])
    func aRefusingFailingOrSilentPublishAuthorizerDenies(behaviour: String) async throws {
        let hook = Publishes { message, _ in
            guard message.topic == "guarded" else { return .allow }
            switch behaviour {
            case "refuse": return .refuse(.notAuthorized)
            case "throw": throw Failure()
            default:
                try await Task.sleep(for: .seconds(60))
                return .allow
            }
        }
        // The timeout is long enough that the open topic's immediate answer always beats it, even on a loaded machine.
        try await TestBroker.with(hooks: BrokerHooks(publishAuthorizer: hook, timeout: .seconds(2))) { broker in
            let subscriber = try await broker.client("s")
            try await subscriber.subscribe("#")
            let publisher = try await broker.client("p")
            // Sent together: the second waits for the first's answer, so the acknowledgements keep their order.
            try await publisher.send([
                .publish(PublishPacket(topic: "guarded", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetIdentifier: 1)),
                .publish(PublishPacket(topic: "open", payload: ByteBuffer(string: "y"), qos: .atLeastOnce, packetIdentifier: 2)),
            ])
            let first = try await publisher.expectPubAck()
            #expect(first.packetIdentifier == 1)
            #expect(first.reasonCode == .notAuthorized)
            let second = try await publisher.expectPubAck()
            #expect(second.packetIdentifier == 2)
            #expect(second.reasonCode == .success)
            #expect(try await subscriber.expectPublish().topic == "open")
        }
    }

    /// A PUBLISH counts once it is received: a publisher that goes away while the authorizer decides still has
    /// its message routed.
    @Test func aMessageIsRoutedWhenItsPublisherLeavesDuringTheDecision() async throws {
        let decided = AsyncStream.makeStream(of: Void.self)
        let hook = Publishes { _, _ in
            // Answers only once the publisher's connection is gone.
            for await _ in decided.stream { break }
            return .allow
        }
        try await TestBroker.with(hooks: BrokerHooks(publishAuthorizer: hook)) { broker in
            let subscriber = try await broker.client("s")
            try await subscriber.subscribe("t")
            let events = broker.broker.events()
            let publisher = try await broker.client("p")
            try await publisher.publish("t", "last words")
            await publisher.drop()
            for await event in events {
                if case .clientDisconnected("p") = event { break }
            }
            decided.continuation.yield()
            #expect(try await subscriber.expectPublish().payloadString == "last words")
        }
    }

    @Test func subscriptionsCanBeDowngradedOrRefused() async throws {
        let hook = Subscribes { filter, _, client in
            #expect(client.userName == nil)
            switch filter {
            case "slow/#": return .downgrade(.atMostOnce)
            case "forbidden": return .refuse(.notAuthorized)
            case "broken": throw Failure()
            default: return .allow
            }
        }
        try await TestBroker.with(hooks: BrokerHooks(subscribeAuthorizer: hook)) { broker in
            let client = try await broker.client("c")
            let codes = try await client.subscribe([
                ("slow/#", SubscriptionOptions(qos: .exactlyOnce)),
                ("fast/#", SubscriptionOptions(qos: .exactlyOnce)),
            ])
            #expect(codes == [.grantedQoS0, .grantedQoS2])
            #expect(try await client.subscribe([("forbidden", SubscriptionOptions())], packetIdentifier: 2) == [.notAuthorized])
            // An authorizer that throws refuses every subscription of the packet.
            #expect(try await client.subscribe([("broken", SubscriptionOptions()), ("fast/x", SubscriptionOptions())], packetIdentifier: 3) == [.notAuthorized, .notAuthorized])
            let old = try await broker.client("old", version: .v3_1_1)
            #expect(try await old.subscribe([("forbidden", SubscriptionOptions())]) == [.subscriptionFailure])
        }
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func thePreConnectCheckCanTurnClientsAway(version: ProtocolVersion) async throws {
        let gate = Gate { client, _ in
            client.clientIdentifier.hasPrefix("banned") ? .banned : nil
        }
        try await TestBroker.with(hooks: BrokerHooks(preConnect: gate)) { broker in
            let client = try await broker.open(version: version)
            try await client.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "banned-1")))
            #expect(try await client.expectConnAck().reasonCode == (version == .v5 ? .banned : ConnectReturnCode.notAuthorized.reasonCode))
            try await client.expectClosed()
            _ = try await broker.client("welcome", version: version)
        }
    }

    @Test func aPreConnectCheckThatTimesOutRefuses() async throws {
        let gate = Gate { _, _ in
            try await Task.sleep(for: .seconds(60))
            return nil
        }
        // The timeout is long enough that the open topic's immediate answer always beats it, even on a loaded machine.
        try await TestBroker.with(hooks: BrokerHooks(preConnect: gate, timeout: .seconds(2))) { broker in
            let client = try await broker.open()
            try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "late")))
            #expect(try await client.expectConnAck().reasonCode == .notAuthorized)
        }
    }

    @Test func theObserverIsToldEverythingInOrder() async throws {
        let recorder = Recorder()
        try await TestBroker.with(hooks: BrokerHooks(observer: recorder)) { broker in
            let client = try await AuthenticationTests.connect(broker, "watched", userName: "u")
            #expect(try await client.expectConnAck().reasonCode == .success)
            try await client.subscribe("a/#")
            // The client's own subscription gets the message before the client gets its PUBACK.
            try await client.send(.publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetIdentifier: 1)))
            _ = try await client.expectPublish()
            _ = try await client.expectPubAck()
            try await client.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["a/#"])))
            _ = try await client.expectUnsubAck()
            try await client.disconnect()
            await recorder.waitFor(5)
        }
        #expect(recorder.calls.withLockedValue { $0 } == [
            "connected watched u", "subscribed watched [\"a/#\"]", "published watched a/b", "unsubscribed watched [\"a/#\"]",
            "disconnected watched",
        ])
    }
}
