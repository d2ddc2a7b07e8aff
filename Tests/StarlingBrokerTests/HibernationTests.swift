import MQTT
import NIOCore
@testable import StarlingBroker
import StarlingTesting
import Testing

/// Idle connections hibernate (their channel let go of, the socket and session kept) and wake for whatever
/// needs them; the client must not be able to tell.
@Suite(.enabled(if: HibernationWatcher.isAvailable, "idle connections hibernate on Linux only"))
struct HibernationTests {
    static func hibernating(_ configure: @escaping (inout BrokerConfiguration) -> Void = { _ in }) -> (inout BrokerConfiguration) -> Void {
        { configuration in
            configuration.limits.hibernateAfter = .milliseconds(300)
            configure(&configuration)
        }
    }

    @Test func anIdleSubscriberHibernatesAndStillReceivesEveryMessage() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let subscriber = try await broker.client("sleeper")
            try await subscriber.subscribe("wake/#", qos: .atLeastOnce)
            try await broker.waitForHibernating(1)
            let publisher = try await broker.client("publisher")
            // The messages go straight to the sleeping subscriber's socket, and its PUBACKs are read for it.
            try await publisher.publish("wake/0", "at most once")
            try await publisher.publishQoS1("wake/1", "at least once")
            try await publisher.publishQoS1("wake/2", String(repeating: "x", count: 4_096), packetIdentifier: 2)
            let received = try await subscriber.publishes(count: 3)
            #expect(received.map(\.topic) == ["wake/0", "wake/1", "wake/2"])
            #expect(received[2].payload.readableBytes == 4_096)
            // Both hibernate, and a message still arrives.
            try await broker.waitForHibernating(2)
            try await publisher.publishQoS1("wake/3", "again", packetIdentifier: 3)
            #expect(try await subscriber.publishes(count: 1).map(\.topic) == ["wake/3"])
        }
    }

    /// What comes for a hibernating subscriber is written to its socket without waking it, and its QoS 1
    /// acknowledgements are handled without waking it either.
    @Test func messagesReachAHibernatingSubscriberWithoutWakingIt() async throws {
        // One message in flight at a time: the second is sent only once the first PUBACK has been handled.
        try await TestBroker.with(Self.hibernating { $0.limits.maximumInflight = 1 }) { broker in
            let subscriber = try await broker.client("sleeper")
            try await subscriber.subscribe("asleep/#", qos: .atLeastOnce)
            try await broker.waitForHibernating(1)
            let wakes = try await broker.wakes()
            for index in 0..<3 {
                await broker.broker.publish(topic: "asleep/\(index)", payload: "quietly \(index)")
            }
            let received = try await subscriber.publishes(count: 3)
            #expect(received.map(\.topic) == ["asleep/0", "asleep/1", "asleep/2"])

            for index in 0..<2 {
                await broker.broker.publish(topic: "asleep/q1/\(index)", payload: ByteBuffer(string: "acknowledged"), qos: .atLeastOnce)
            }
            // A ping and an acknowledgement in one segment, then the acknowledgement alone.
            let first = try await subscriber.expectPublish()
            try await subscriber.send([.pingReq, .pubAck(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!))])
            #expect(try await subscriber.nextPacket() == .pingResp)
            let second = try await subscriber.expectPublish()
            #expect([first.topic, second.topic] == ["asleep/q1/0", "asleep/q1/1"])
            try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: second.packetIdentifier!)))
            await broker.broker.publish(topic: "asleep/q1/2", payload: ByteBuffer(string: "acknowledged"), qos: .atLeastOnce)
            #expect(try await subscriber.expectPublish().topic == "asleep/q1/2")
            #expect(try await broker.broker.statistics().hibernatingClients == 1)
            #expect(try await broker.wakes() == wakes)
        }
    }

    /// The QoS 2 exchange with a hibernating subscriber (PUBREC in, PUBREL out, PUBCOMP in) wakes it no more.
    @Test func aQoS2DeliveryCompletesWithoutWakingTheSubscriber() async throws {
        try await TestBroker.with(Self.hibernating { $0.limits.maximumInflight = 1 }) { broker in
            let subscriber = try await broker.client("sleeper")
            try await subscriber.subscribe("asleep/#", qos: .exactlyOnce)
            try await broker.waitForHibernating(1)
            let wakes = try await broker.wakes()
            for index in 0..<2 {
                await broker.broker.publish(topic: "asleep/q2/\(index)", payload: ByteBuffer(string: "once"), qos: .exactlyOnce)
            }
            let first = try await subscriber.expectPublish()
            #expect(first.topic == "asleep/q2/0")
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!)))
            #expect(try await subscriber.nextPacket() == .pubRel(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!)))
            try await subscriber.send(.pubComp(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!)))
            // One in flight at a time: the second comes once the first is complete.
            #expect(try await subscriber.expectPublish().topic == "asleep/q2/1")
            #expect(try await broker.broker.statistics().hibernatingClients == 1)
            #expect(try await broker.wakes() == wakes)
        }
    }

    /// A malformed acknowledgement read for a hibernating connection closes it with 0x81, as on a channel.
    @Test func aMalformedAcknowledgementWhileAsleepClosesTheConnection() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let subscriber = try await broker.client("sleeper")
            try await broker.waitForHibernating(1)
            try await subscriber.send(bytes: [0x40, 0x01, 0x00])
            #expect(try await subscriber.nextPacket() == .disconnect(DisconnectPacket(reasonCode: .malformedPacket)))
            try await subscriber.expectClosed()
            try await broker.waitForHibernating(0)
        }
    }

    @Test func aHibernatingClientsOwnPacketsWakeIt() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let client = try await broker.client("pinger")
            let subscriber = try await broker.client("listener")
            try await subscriber.subscribe("from/pinger")
            try await broker.waitForHibernating(2)
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)
            try await client.publishQoS1("from/pinger", "hello")
            let publish = try await subscriber.expectPublish()
            #expect(publish.topic == "from/pinger")
        }
    }

    /// MQTT-3.1.2-24 holds while a connection hibernates: the keep alive still ends it, with its will.
    @Test func theKeepAliveStillEndsAHibernatingConnection() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let watcher = try await broker.client("watcher")
            try await watcher.subscribe("will/#")
            let will = ConnectPacket.Will(topic: "will/silent", payload: ByteBuffer(string: "gone"))
            // Long enough a keep alive (6 s allowed) for both connections to hibernate first, even on a loaded machine.
            let (silent, _) = try await broker.connect("silent", keepAlive: 4, will: will)
            try await broker.waitForHibernating(2)
            let disconnect = try await silent.expectDisconnect(timeout: .seconds(15))
            #expect(disconnect.reasonCode == .keepAliveTimeout)
            try await silent.expectClosed()
            #expect(try await watcher.expectPublish(timeout: .seconds(5)).topic == "will/silent")
        }
    }

    /// Keep-alive pings are answered while the connection hibernates, without waking it, and keep it alive.
    @Test func pingsAreAnsweredWithoutWaking() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let (client, _) = try await broker.connect("pinger", keepAlive: 5)
            // Pinged while it falls asleep: on a loaded machine that can take longer than the keep alive allows.
            let deadline = ContinuousClock.now + .seconds(20)
            while try await broker.broker.statistics().hibernatingClients != 1 {
                try #require(ContinuousClock.now < deadline, "the connection never hibernated")
                try await client.send(.pingReq)
                #expect(try await client.nextPacket() == .pingResp)
                try await Task.sleep(for: .seconds(1))
            }
            // Longer than the 7.5 s the keep alive allows without a packet.
            for _ in 0..<20 {
                try await client.send(.pingReq)
                #expect(try await client.nextPacket() == .pingResp)
                #expect(try await broker.broker.statistics().hibernatingClients == 1)
                try await Task.sleep(for: .milliseconds(400))
            }
            // Two pings in one segment get two answers.
            try await client.send([.pingReq, .pingReq])
            #expect(try await client.nextPacket() == .pingResp)
            #expect(try await client.nextPacket() == .pingResp)
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)
            #expect(try await broker.broker.statistics().hibernatingClients == 1)
            try await client.disconnect()
        }
    }

    @Test func aHibernatingClientThatHangsUpLeavesItsWill() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let (watcher, leaver) = try await Self.watcherAndLeaver(broker)
            let wakes = try await broker.wakes()
            await leaver.drop()
            #expect(try await watcher.expectPublish().topic == "will/gone")
            #expect(try await broker.broker.statistics().connectedClients == 1)
            // Neither woke: the hang-up ended the leaver where it slept, and the will went straight to the watcher.
            #expect(try await broker.wakes() == wakes)
        }
    }

    /// A DISCONNECT sent just before hanging up is read, not taken for a lost connection: no will.
    @Test func aHibernatingClientThatSaysGoodbyeAndHangsUpLeavesNoWill() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let (watcher, leaver) = try await Self.watcherAndLeaver(broker)
            try await leaver.send(.disconnect(DisconnectPacket()))
            await leaver.drop()
            let marker = try await broker.client("marker")
            try await marker.publish("will/marker", "after")
            #expect(try await watcher.expectPublish().topic == "will/marker")
        }
    }

    /// A DISCONNECT is read where the connection sleeps: it ends without waking, and its will is discarded
    /// (MQTT-3.14.4-3); a 5.0 DISCONNECT's new Session Expiry Interval is kept.
    @Test func aDisconnectEndsAHibernatingConnectionWithoutWakingIt() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let (watcher, leaver) = try await Self.watcherAndLeaver(broker)
            let wakes = try await broker.wakes()
            try await leaver.send(.disconnect(DisconnectPacket()))
            try await leaver.expectClosed()
            #expect(try await broker.wakes() == wakes)
            let marker = try await broker.client("marker")
            try await marker.publish("will/marker", "after")
            #expect(try await watcher.expectPublish().topic == "will/marker")
        }
    }

    /// MQTT-3.14.2-2, read where the connection sleeps: a session that was to end with the connection cannot be
    /// given an expiry by DISCONNECT; the answer goes out without waking it.
    @Test func aDisconnectBreakingARuleIsAnsweredWithoutWaking() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let (client, _) = try await broker.connect("five", version: .v5, properties: [.sessionExpiryInterval(0)])
            try await broker.waitForHibernating(1)
            let wakes = try await broker.wakes()
            try await client.send(.disconnect(DisconnectPacket(reasonCode: .normalDisconnection, properties: [.sessionExpiryInterval(60)])))
            guard case .disconnect(let answer) = try await client.nextPacket() else {
                Issue.record("no DISCONNECT")
                return
            }
            #expect(answer.reasonCode == .protocolError)
            try await client.expectClosed()
            #expect(try await broker.wakes() == wakes)
        }
    }

    /// A subscriber to `will/#` and a client with a will on `will/gone`, both hibernating.
    private static func watcherAndLeaver(_ broker: TestBroker) async throws -> (watcher: RawClient, leaver: RawClient) {
        let watcher = try await broker.client("watcher")
        try await watcher.subscribe("will/#")
        let will = ConnectPacket.Will(topic: "will/gone", payload: ByteBuffer(string: "gone"))
        let leaver = try await broker.client("leaver", will: will)
        try await broker.waitForHibernating(2)
        return (watcher, leaver)
    }

    /// MQTT-3.1.4-3: a new connection with the same client identifier takes the session over from a hibernating one.
    @Test func aHibernatingSessionIsTakenOver() async throws {
        try await TestBroker.with(Self.hibernating()) { broker in
            let first = try await broker.client("twice", cleanStart: false, properties: [.sessionExpiryInterval(60)])
            try await first.subscribe("kept/#", qos: .atLeastOnce)
            try await broker.waitForHibernating(1)
            let (second, connAck) = try await broker.connect("twice", cleanStart: false, properties: [.sessionExpiryInterval(60)])
            #expect(connAck.sessionPresent)
            #expect(try await first.expectDisconnect().reasonCode == .sessionTakenOver)
            try await first.expectClosed()
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("kept/1", "still subscribed")
            #expect(try await second.expectPublish().topic == "kept/1")
        }
    }

    /// 5.0 §3.14.2.1: shutting down tells a hibernating 5.0 client 0x8B too.
    @Test func shutdownSaysGoodbyeToHibernatingClients() async throws {
        let client = try await TestBroker.with(Self.hibernating()) { broker in
            let client = try await broker.client("asleep-at-shutdown")
            try await broker.waitForHibernating(1)
            return client
        }
        #expect(try await client.expectDisconnect().reasonCode == .serverShuttingDown)
        try await client.expectClosed()
    }

    /// A hibernating connection still counts against its listener's limit, and gives its place back once gone.
    @Test func hibernatingConnectionsKeepTheirPlaceOnTheListener() async throws {
        let limited = Self.hibernating { $0.listeners = [.init(host: "127.0.0.1", port: 0, maximumConnections: 1)] }
        try await TestBroker.with(limited) { broker in
            let first = try await broker.client("first")
            try await broker.waitForHibernating(1)
            let second = try await broker.open()
            try? await second.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "second")))
            try await second.expectClosed()
            // Woken, then gone: its place is free again.
            try await first.disconnect()
            let third = try await ListenerTests.retryingConnect(broker, "third")
            try await third.disconnect()
        }
    }

    /// More connections going idle together than one batch of the loop's hibernation queue: the rest follow in
    /// the next batches.
    @Test func aCrowdGoingIdleTogetherHibernatesInBatches() async throws {
        try await TestBroker.with(loops: 1, Self.hibernating()) { broker in
            let loop = broker.broker.core.loops[0]
            try await loop.eventLoop.submit { loop.hibernationQueue.batchSize = 4 }.get()
            var clients: [RawClient] = []
            for index in 0..<20 { clients.append(try await broker.client("crowd-\(index)")) }
            try await broker.waitForHibernating(20, timeout: .seconds(10))
            // Every one of them is still there, asleep or woken.
            try await clients[19].send(.pingReq)
            #expect(try await clients[19].nextPacket() == .pingResp)
            try await clients[0].publishQoS1("crowd/0", "awake again")
        }
    }

    /// Beyond `hibernateQuicklyAbove` awake connections, idle ones hibernate after a tick or two rather than
    /// `hibernateAfter`, until no more than that many are awake.
    @Test func manyAwakeConnectionsHibernateQuickly() async throws {
        try await TestBroker.with(loops: 1, Self.hibernating {
            $0.limits.hibernateAfter = .seconds(60)
            $0.limits.hibernateQuicklyAbove = 2
        }) { broker in
            var clients: [RawClient] = []
            for index in 0..<5 { clients.append(try await broker.client("crowd-\(index)")) }
            try await broker.waitForHibernating(3)
            // Two stay awake: within the limit, they wait for their minute.
            try await broker.expectHibernating(3, for: .milliseconds(600))
            for client in clients {
                try await client.send(.pingReq)
                #expect(try await client.nextPacket() == .pingResp)
            }
        }
    }

    /// A connection that wakes soon after it was hurried into hibernation is not hurried again.
    @Test func aConnectionThatWakesSoonIsNotHurriedAgain() async throws {
        try await TestBroker.with(loops: 1, Self.hibernating {
            $0.limits.hibernateAfter = .seconds(60)
            $0.limits.hibernateQuicklyAbove = 0
        }) { broker in
            let busy = try await broker.client("busy")
            try await broker.waitForHibernating(1)
            // Its own packet wakes it.
            try await busy.publishQoS1("work/1", "done")
            try await broker.waitForHibernating(0)
            // A newcomer is still hurried, and the first one stays awake beside it.
            let newcomer = try await broker.client("newcomer")
            try await broker.waitForHibernating(1)
            try await broker.expectHibernating(1, for: .milliseconds(600))
            try await newcomer.disconnect()
            try await broker.waitForHibernating(0)
            try await busy.publishQoS1("work/2", "done", packetIdentifier: 2)
        }
    }

    @Test func withHibernationOffConnectionsStayAwake() async throws {
        try await TestBroker.with({ $0.limits.hibernateAfter = nil }) { broker in
            let client = try await broker.client("awake")
            // The same wait the other tests pass: long enough for a hibernating broker to act several times.
            try await broker.expectHibernating(0, for: .milliseconds(1_500))
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)
        }
    }
}

extension TestBroker {
    /// Waits until `count` connections hibernate, which an idle connection does after `hibernateAfter` (and at most
    /// two ticks of the wheel more).
    func waitForHibernating(_ count: Int, timeout: Duration = .seconds(20)) async throws {
        try await waitForStatistics("\(count) hibernating connections", timeout: timeout) { $0.hibernatingClients == count }
    }
}

extension TestBroker {
    /// Hibernating connections woken so far, on every loop.
    func wakes() async throws -> UInt64 {
        var wakes: UInt64 = 0
        for loop in broker.core.loops { wakes += try await loop.eventLoop.submit { loop.counters.wakes }.get() }
        return wakes
    }

    /// Checks, for `duration` (several ticks of the wheel), that `count` connections hibernate, no more, no fewer.
    func expectHibernating(_ count: Int, for duration: Duration) async throws {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            #expect(try await broker.statistics().hibernatingClients == count)
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension RawClient {
    /// The next `count` PUBLISH packets, each QoS 1 one acknowledged.
    func publishes(count: Int) async throws -> [PublishPacket] {
        var received: [PublishPacket] = []
        while received.count < count {
            let publish = try await expectPublish()
            received.append(publish)
            if publish.qos == .atLeastOnce, let identifier = publish.packetIdentifier {
                try await send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))
            }
        }
        return received
    }
}
