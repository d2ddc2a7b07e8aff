import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import StarlingBroker
import StarlingTesting
import Testing

/// The broker inside an application: channels the application accepts, in-process publishing, the event
/// stream and shutdown.
@Suite struct EmbeddingTests {
    /// `handle(_:)` serves connections accepted by the application's own `ServerBootstrap` on the broker's group,
    /// with no listener of the broker's own.
    @Test func handleServesChannelsTheApplicationAccepted() async throws {
        try await TestBroker.with({ $0.listeners = [] }) { broker in
            let mqtt = broker.broker
            let server = try await ServerBootstrap(group: broker.group)
                .childChannelInitializer { channel in channel.eventLoop.makeFutureWithTask { try await mqtt.handle(channel) } }
                .bind(host: "127.0.0.1", port: 0).get()
            do {
                let port = try #require(server.localAddress?.port)
                let subscriber = try await RawClient.open(port: port, version: .v5)
                try await subscriber.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "embedded-subscriber")))
                #expect(try await subscriber.expectConnAck().reasonCode == .success)
                try await subscriber.subscribe("app/t", qos: .atLeastOnce)

                let publisher = try await RawClient.open(port: port, version: .v3_1_1)
                try await publisher.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "embedded-publisher")))
                #expect(try await publisher.expectConnAck().reasonCode == .success)
                try await publisher.publishQoS1("app/t", "through the application's listener")
                #expect(try await subscriber.expectPublish().payloadString == "through the application's listener")
            } catch {
                Issue.record(error)
            }
            await broker.stop()
            try await server.close()
        }
    }

    /// `run()` throws when a listener cannot be bound, having closed those it bound, and never reports the broker
    /// running.
    @Test func runThrowsWhenAListenerCannotBeBound() async throws {
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        let announced = NIOLockedValueBox(false)
        let broker = MQTTBroker(
            configuration: BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: 0), .init(host: "127.0.0.1", port: port)]),
            logger: TestBroker.quietLogger,
            onServerRunning: { _ in announced.withLockedValue { $0 = true } })
        await #expect(throws: (any Error).self) { try await broker.run() }
        #expect(announced.withLockedValue { $0 } == false)
        try await taken.close()
    }

    /// A channel of another event loop cannot be handled: the broker's state is confined to its own loops.
    @Test func handleRefusesChannelsOfOtherEventLoops() async throws {
        try await TestBroker.with { broker in
            let channel = EmbeddedChannel()
            await #expect(throws: BrokerError.foreignEventLoop) {
                try await broker.broker.handle(channel)
            }
        }
    }

    /// `publish` from the application reaches subscribers like a client's PUBLISH: at the lower QoS, retained
    /// for later subscribers, with its 5.0 properties.
    @Test func inProcessPublishReachesSubscribers() async throws {
        try await TestBroker.with { broker in
            let v5 = try await broker.client("v5", version: .v5)
            try await v5.subscribe("app/#", qos: .atLeastOnce)
            let v311 = try await broker.client("v311", version: .v3_1_1)
            try await v311.subscribe("app/status")

            await broker.broker.publish(
                topic: "app/status", payload: ByteBuffer(string: "up"), qos: .exactlyOnce, retain: true,
                properties: [.userProperty("origin", "app"), .contentType("text/plain")])

            let received = try await v5.expectPublish()
            #expect(received.topic == "app/status")
            #expect(received.qos == .atLeastOnce)
            #expect(received.retain == false)
            #expect(received.payloadString == "up")
            #expect(received.properties.contentType == "text/plain")
            #expect(received.properties.userProperties.map { "\($0.key)=\($0.value)" } == ["origin=app"])
            let plain = try await v311.expectPublish()
            #expect(plain.qos == .atMostOnce)
            #expect(plain.payloadString == "up")

            let late = try await broker.client("late", version: .v5)
            try await late.subscribe("app/status", qos: .exactlyOnce)
            let retained = try await late.expectPublish()
            #expect(retained.retain == true)
            #expect(retained.qos == .exactlyOnce)
        }
    }

    /// A Topic Alias or Subscription Identifier the application puts in a message's properties belongs to no
    /// connection of the subscriber's: it is not sent on (3.3.2.3.4, MQTT-3.3.4-6); each delivery sets its own.
    @Test func inProcessPublishSendsNoTransportPropertiesOfItsOwn() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("aliases", version: .v5)
            try await subscriber.subscribe("app/#", qos: .atMostOnce, subscriptionIdentifier: 7)
            let properties: Properties = [.topicAlias(5), .subscriptionIdentifier(9), .userProperty("origin", "app")]
            await broker.broker.publish(topic: "app/a", payload: ByteBuffer(string: "one"), properties: properties)
            // Properties set after the message was made are dropped too.
            var message = Message(topic: "app/b", payload: ByteBuffer(string: "two"))
            message.properties = properties
            await broker.broker.publish(message)
            for topic in ["app/a", "app/b"] {
                let received = try await subscriber.expectPublish()
                #expect(received.topic == topic)
                #expect(received.properties.topicAlias == nil)
                #expect(received.properties.subscriptionIdentifiers == [7])
                #expect(received.properties.userProperties.map { "\($0.key)=\($0.value)" } == ["origin=app"])
            }
        }
    }

    /// `events()` reports a client's life: connected, subscribed, published, disconnected, in that order.
    @Test func eventsReportWhatClientsDo() async throws {
        try await TestBroker.with { broker in
            let events = broker.broker.events()
            let client = try await broker.client("watched", version: .v5)
            try await client.subscribe("ev/#")
            try await client.publishQoS1("news/t", "hello", retain: false)
            try await client.disconnect()

            let seen = try await Self.events(events, untilDisconnected: "watched")
            #expect(seen == [
                .clientConnected(clientIdentifier: "watched", version: .v5),
                .subscribed(clientIdentifier: "watched", topicFilters: ["ev/#"]),
                .published(clientIdentifier: "watched", topic: "news/t", payload: ByteBuffer(string: "hello"), qos: .atLeastOnce, retain: false),
                .clientDisconnected(clientIdentifier: "watched"),
            ])
        }
    }

    /// The events of `stream` up to the disconnection of `clientIdentifier`.
    static func events(_ stream: AsyncStream<BrokerEvent>, untilDisconnected clientIdentifier: String) async throws -> [BrokerEvent] {
        try await withTimeout {
            var seen: [BrokerEvent] = []
            for await event in stream {
                seen.append(event)
                if case .clientDisconnected(clientIdentifier: clientIdentifier) = event { break }
            }
            return seen
        }
    }

    /// A stream without publications gets the rest, and a publish costs nothing when no stream takes them: the
    /// broker makes no `published` event for it (`isListeningForPublications`).
    @Test func eventsWithoutPublicationsLeaveThemOut() async throws {
        try await TestBroker.with { broker in
            let events = broker.broker.events(includingPublications: false)
            #expect(!broker.broker.core.eventSink.isListeningForPublications)
            let client = try await broker.client("quiet", version: .v5)
            try await client.subscribe("ev/#")
            try await client.publishQoS1("news/t", "hello", retain: false)
            try await client.disconnect()

            let seen = try await Self.events(events, untilDisconnected: "quiet")
            #expect(seen == [
                .clientConnected(clientIdentifier: "quiet", version: .v5),
                .subscribed(clientIdentifier: "quiet", topicFilters: ["ev/#"]),
                .clientDisconnected(clientIdentifier: "quiet"),
            ])
            let all = broker.broker.events()
            #expect(broker.broker.core.eventSink.isListeningForPublications)
            _ = all
        }
    }

    /// A connection whose session a new one takes over is reported as disconnected, before the new one connects,
    /// as EMQX and HiveMQ report it: a stream never shows a client connected twice at once.
    @Test func eventsReportATakeOverAsADisconnection() async throws {
        try await TestBroker.with { broker in
            let events = broker.broker.events()
            let first = try await broker.client("twice", version: .v5)
            _ = try await broker.client("twice", version: .v5)
            _ = try await first.expectDisconnect()

            let seen = try await withTimeout {
                var seen: [BrokerEvent] = []
                for await event in events {
                    seen.append(event)
                    if seen.count == 3 { break }
                }
                return seen
            }
            #expect(seen == [
                .clientConnected(clientIdentifier: "twice", version: .v5),
                .clientDisconnected(clientIdentifier: "twice"),
                .clientConnected(clientIdentifier: "twice", version: .v5),
            ])
        }
    }

    /// Shutting down finishes its work before `run()` returns, so the application can shut the event loops down right
    /// after it: ending sessions with subscriptions on both loops must not leave work bound for a stopped loop
    /// (a debug build traps on the promise such work would leak).
    @Test func loopsCanBeShutDownRightAfterTheBroker() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<25 {
                        try await TestBroker.with { broker in
                            let subscriber = try await broker.client("subscriber", version: .v5)
                            try await subscriber.subscribe([("shutdown/a", SubscriptionOptions()), ("shutdown/b", SubscriptionOptions())])
                            _ = try await broker.client("idle", version: .v5)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// 5.0 §3.14.2.1: shutting the broker down (gracefully, as a `ServiceGroup` does) tells 5.0 clients 0x8B (Server shutting down) and closes every
    /// connection; 3.1.1 clients are just closed.
    @Test func shutdownClosesEveryConnection() async throws {
        try await TestBroker.with { broker in
            let v5 = try await broker.client("v5", version: .v5)
            let v311 = try await broker.client("v311", version: .v3_1_1)
            await broker.stop()
            #expect(try await v5.expectDisconnect().reasonCode == .serverShuttingDown)
            try await v5.expectClosed()
            try await v311.expectClosed()
        }
    }

    /// 4.11: the application sends a connected 5.0 client elsewhere with DISCONNECT 0x9C and a Server Reference;
    /// a 3.1.1 client is closed without a DISCONNECT, which that version does not have from the server; an unknown
    /// client identifier is answered false.
    @Test func theApplicationRedirectsAClient() async throws {
        try await TestBroker.with { broker in
            let modern = try await broker.client("modern", version: .v5)
            let redirected = await broker.broker.disconnect(
                clientIdentifier: "modern", reason: .useAnotherServer, serverReference: "backup.example:1883")
            #expect(redirected)
            let disconnect = try await modern.expectDisconnect()
            #expect(disconnect.reasonCode == .useAnotherServer)
            #expect(disconnect.properties.serverReference == "backup.example:1883")
            try await modern.expectClosed()

            let legacy = try await broker.client("legacy", version: .v3_1_1)
            #expect(await broker.broker.disconnect(clientIdentifier: "legacy", reason: .serverMoved, serverReference: "x"))
            try await legacy.expectClosed()

            #expect(await broker.broker.disconnect(clientIdentifier: "nobody") == false)
        }
    }
}

/// Runs `operation`, failing if it takes longer than `limit`: a guard against a hung test, not a wait.
func withTimeout<T: Sendable>(
    _ limit: Duration = .seconds(5), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw RawClient.Failure(description: "timed out after \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
