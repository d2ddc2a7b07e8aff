import MQTT
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOEmbedded
@testable import StarlingBroker
import StarlingTesting
import Testing

/// A subscription holds on every loop from the moment its SUBSCRIBE has been handled, not only once each loop
/// has run the task that carries it there: a message routed on another loop in between reaches it.
@Suite struct SubscriptionVisibilityTests {
    @Test func aMessageRoutedOnAnotherLoopRightAfterASubscribeReachesIt() async throws {
        try await TestBroker.with(loops: 2) { broker in
            let core = broker.broker.core
            let subscriber = try await broker.client("subscriber", version: .v5)
            let session = try #require(core.sessions.session(for: "subscriber"))
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

    /// With one loop the order of arrival is the order of effect: a PUBLISH handled right after another client's
    /// SUBSCRIBE, in the same read burst and before any task of the loop has run, is routed by the new
    /// subscription. The connections sit on channels of an embedded loop, which runs tasks only when told to.
    @Test func aPublishHandledRightAfterASubscribeOnTheSameLoopReachesIt() throws {
        let loop = EmbeddedEventLoop()
        let core = BrokerCore(configuration: BrokerConfiguration(), eventLoops: [loop], logger: Logger(label: "test"))
        func connected(_ clientIdentifier: String) throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(handler: ConnectionHandler(core: core, loop: core.loops[0], remoteAddress: nil), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1883)).wait()
            try channel.writeInbound(try Packet.connect(ConnectPacket(clientIdentifier: clientIdentifier)).encoded(version: .v3_1_1))
            loop.run()
            #expect(try channel.readOutbound(as: ByteBuffer.self) != nil, "no CONNACK for \(clientIdentifier)")
            return channel
        }
        let subscriber = try connected("subscriber")
        let publisher = try connected("publisher")
        let subscribe = SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: "same/loop", qos: .atMostOnce)])
        try subscriber.writeInbound(try Packet.subscribe(subscribe).encoded(version: .v3_1_1))
        try publisher.writeInbound(try Packet.publish(PublishPacket(topic: "same/loop", payload: ByteBuffer(string: "m"), qos: .atMostOnce)).encoded(version: .v3_1_1))
        loop.run()
        var decoder = PacketDecoder(version: .v3_1_1)
        var received: [Packet] = []
        while var bytes = try subscriber.readOutbound(as: ByteBuffer.self) {
            while let packet = try decoder.decode(buffer: &bytes) { received.append(packet) }
        }
        #expect(received.contains { if case .publish(let publish) = $0 { publish.topic == "same/loop" } else { false } }, "received \(received)")
        _ = try? subscriber.finish()
        _ = try? publisher.finish()
    }
}
