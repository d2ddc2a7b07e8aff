import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The QoS 0, 1 and 2 flows in both directions (section 4.3), retransmission on session resumption (4.4) and
/// flow control (4.9).
@Suite struct QoSTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    /// 4.3.1 (both versions): QoS 0 is not acknowledged, and a QoS 0 PUBLISH carries no Packet Identifier and
    /// DUP 0 (3.1.1 MQTT-2.3.1-5, MQTT-3.3.1-2; 5.0 MQTT-2.2.1-2, MQTT-3.3.1-2).
    @Test(arguments: versions)
    func qos0IsNotAcknowledged(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("q0/t", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("q0/t", "fire")
            // Nothing answers the PUBLISH: the next packet is the answer to the PINGREQ.
            try await publisher.send(.pingReq)
            #expect(try await publisher.nextPacket() == .pingResp)

            let delivered = try await subscriber.expectPublish()
            #expect(delivered.qos == .atMostOnce)
            #expect(delivered.packetIdentifier == nil)
            #expect(delivered.duplicate == false)
            #expect(delivered.payloadString == "fire")
        }
    }

    /// 4.3.2 (both versions): the broker answers a QoS 1 PUBLISH with PUBACK carrying its Packet Identifier
    /// (3.1.1 MQTT-4.3.2-2, 5.0 MQTT-4.3.2-4), and sends QoS 1 with a non-zero identifier and DUP 0
    /// (3.1.1 MQTT-4.3.2-1, 5.0 MQTT-4.3.2-1, -2) until the subscriber's PUBACK frees it.
    @Test(arguments: versions)
    func qos1InBothDirections(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("q1/t", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: version)
            let ack = try await publisher.publishQoS1("q1/t", "once", packetIdentifier: 42)
            #expect(ack.reasonCode == .success)

            let delivered = try await subscriber.expectPublish()
            #expect(delivered.qos == .atLeastOnce)
            #expect(delivered.duplicate == false)
            #expect(delivered.payloadString == "once")
            let identifier = try #require(delivered.packetIdentifier)
            #expect(identifier != 0)
            try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))

            // The broker does not resend an acknowledged message: the next one is the new message.
            try await publisher.publishQoS1("q1/t", "next", packetIdentifier: 43)
            let next = try await subscriber.expectPublish()
            #expect(next.payloadString == "next")
            #expect(next.duplicate == false)
        }
    }

    /// 5.0 §3.4.2.1: a QoS 1 PUBLISH that matches no subscription may be answered 0x10 (No matching subscribers).
    @Test func v5PubAckReportsNoMatchingSubscribers() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            let ack = try await publisher.publishQoS1("nobody/listens", "lost")
            #expect(ack.reasonCode == .noMatchingSubscribers)
        }
    }

    /// 4.3.3 (both versions): PUBLISH → PUBREC → PUBREL → PUBCOMP with the PUBLISH's identifier inbound
    /// (3.1.1 MQTT-4.3.3-2, MQTT-3.6.4-1; 5.0 MQTT-4.3.3-8, -11) and outbound, where the broker sends DUP 0 and
    /// answers PUBREC with PUBREL (3.1.1 MQTT-4.3.3-1; 5.0 MQTT-4.3.3-2, -4).
    @Test(arguments: versions)
    func qos2InBothDirections(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("q2/t", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher", version: version)

            try await publisher.send(.publish(PublishPacket(topic: "q2/t", payload: ByteBuffer(string: "exactly"), qos: .exactlyOnce, packetIdentifier: 5)))
            let pubRec = try await publisher.expectPubRec()
            #expect(pubRec.packetIdentifier == 5)
            #expect(pubRec.reasonCode == .success)
            try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: 5)))
            let pubComp = try await publisher.expectPubComp()
            #expect(pubComp.packetIdentifier == 5)
            #expect(pubComp.reasonCode == .success)

            let delivered = try await subscriber.expectPublish()
            #expect(delivered.qos == .exactlyOnce)
            #expect(delivered.duplicate == false)
            #expect(delivered.payloadString == "exactly")
            let identifier = try #require(delivered.packetIdentifier)
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: identifier)))
            #expect(try await subscriber.expectPubRel().packetIdentifier == identifier)
            try await subscriber.send(.pubComp(AcknowledgementPacket(packetIdentifier: identifier)))

            // The flow is complete: nothing is resent, the next message comes next.
            try await publisher.publish("q2/t", "after")
            #expect(try await subscriber.expectPublish().payloadString == "after")
        }
    }

    /// 3.1.1 MQTT-4.3.3-2, 5.0 MQTT-4.3.3-10: until PUBREL, a PUBLISH with the same identifier is answered with
    /// PUBREC again and is not delivered a second time. After PUBCOMP the identifier starts a new message.
    @Test(arguments: versions)
    func resentQoS2PublishIsNotDeliveredTwice(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("q2/#")
            let publisher = try await broker.client("publisher", version: version)

            let original = PublishPacket(topic: "q2/t", payload: ByteBuffer(string: "first"), qos: .exactlyOnce, packetIdentifier: 9)
            try await publisher.send(.publish(original))
            #expect(try await publisher.expectPubRec().packetIdentifier == 9)
            var resent = original
            resent.duplicate = true
            try await publisher.send(.publish(resent))
            #expect(try await publisher.expectPubRec().packetIdentifier == 9)
            try await publisher.publish("q2/marker", "marker")

            #expect(try await subscriber.expectPublish().payloadString == "first")
            #expect(try await subscriber.expectPublish().topic == "q2/marker")

            try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: 9)))
            #expect(try await publisher.expectPubComp().packetIdentifier == 9)
            try await publisher.send(.publish(PublishPacket(topic: "q2/t", payload: ByteBuffer(string: "second"), qos: .exactlyOnce, packetIdentifier: 9)))
            #expect(try await publisher.expectPubRec().packetIdentifier == 9)
            #expect(try await subscriber.expectPublish().payloadString == "second")
        }
    }

    /// 3.1.1 MQTT-3.6.4-1, 5.0 MQTT-4.3.3-11: PUBREL is always answered with PUBCOMP; in 5.0 one for an identifier
    /// the broker does not know carries 0x92 (Packet Identifier not found, §3.7.2.1).
    @Test(arguments: versions)
    func pubRelForAnUnknownIdentifier(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("releaser", version: version)
            try await client.send(.pubRel(AcknowledgementPacket(packetIdentifier: 77)))
            let pubComp = try await client.expectPubComp()
            #expect(pubComp.packetIdentifier == 77)
            if version == .v5 { #expect(pubComp.reasonCode == .packetIdentifierNotFound) }
        }
    }

    /// MQTT-4.4.0-1 (both versions): on resumption the broker resends unacknowledged PUBLISH packets with their
    /// original identifiers and DUP 1 (MQTT-3.3.1-1), and PUBREL for QoS 2 messages past PUBREC, in the order
    /// they were first sent (4.6).
    @Test(arguments: versions)
    func inflightMessagesAreResentInOrderOnResumption(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let properties: Properties = version == .v5 ? [.sessionExpiryInterval(60)] : []
            let subscriber = try await broker.client("resumer", version: version, cleanStart: false, properties: properties)
            try await subscriber.subscribe("r/#", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("r/1", "one", packetIdentifier: 1)
            try await publisher.publishQoS1("r/2", "two", packetIdentifier: 2)
            try await publisher.send(.publish(PublishPacket(topic: "r/3", payload: ByteBuffer(string: "three"), qos: .exactlyOnce, packetIdentifier: 3)))
            _ = try await publisher.expectPubRec()
            try await publisher.publishQoS1("r/4", "four", packetIdentifier: 4)

            let one = try await subscriber.expectPublish()
            let two = try await subscriber.expectPublish()
            let three = try await subscriber.expectPublish()
            let four = try await subscriber.expectPublish()
            #expect([one, two, three, four].map(\.payloadString) == ["one", "two", "three", "four"])
            let threeIdentifier = try #require(three.packetIdentifier)
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: threeIdentifier)))
            #expect(try await subscriber.expectPubRel().packetIdentifier == threeIdentifier)
            // "two" is acknowledged, so it is not resent.
            try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: try #require(two.packetIdentifier))))
            await subscriber.drop()

            let (resumed, connAck) = try await broker.connect("resumer", version: version, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent == true)
            let resentOne = try await resumed.expectPublish()
            #expect(resentOne.duplicate == true)
            #expect(resentOne.packetIdentifier == one.packetIdentifier)
            #expect(resentOne.payloadString == "one")
            #expect(try await resumed.expectPubRel().packetIdentifier == threeIdentifier)
            let resentFour = try await resumed.expectPublish()
            #expect(resentFour.duplicate == true)
            #expect(resentFour.packetIdentifier == four.packetIdentifier)
            #expect(resentFour.payloadString == "four")

            try await resumed.send([
                .pubAck(AcknowledgementPacket(packetIdentifier: resentOne.packetIdentifier!)),
                .pubComp(AcknowledgementPacket(packetIdentifier: threeIdentifier)),
                .pubAck(AcknowledgementPacket(packetIdentifier: resentFour.packetIdentifier!)),
            ])
            try await resumed.disconnect()

            // Everything is acknowledged now: a second resumption resends nothing before new messages.
            let (again, againAck) = try await broker.connect("resumer", version: version, cleanStart: false, properties: properties)
            #expect(againAck.sessionPresent == true)
            try await publisher.publish("r/marker", "marker")
            #expect(try await again.expectPublish().topic == "r/marker")
        }
    }

    /// 3.1.1 MQTT-3.1.4-2, 5.0 MQTT-3.1.4-3 with MQTT-4.4.0-1: a connection that takes over a session from a live
    /// connection gets its unacknowledged messages, resent with DUP 1. The broker's two loops take connections in
    /// turn, so one extra connection puts the new connection on the other loop than the old one.
    @Test(arguments: versions, [false, true])
    func takeOverResumesMessagesInFlight(version: ProtocolVersion, otherLoop: Bool) async throws {
        try await TestBroker.with { broker in
            let properties: Properties = version == .v5 ? [.sessionExpiryInterval(60)] : []
            let old = try await broker.client("mover", version: version, cleanStart: false, properties: properties)
            try await old.subscribe("move/t", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("move/t", "in flight")
            let sent = try await old.expectPublish()

            if otherLoop { _ = try await broker.open(version: version) }
            let (new, connAck) = try await broker.connect("mover", version: version, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent == true)
            let resent = try await new.expectPublish()
            #expect(resent.duplicate == true)
            #expect(resent.packetIdentifier == sent.packetIdentifier)
            #expect(resent.payloadString == "in flight")
            try await publisher.publishQoS1("move/t", "after")
            #expect(try await new.expectPublish().payloadString == "after")
        }
    }

    /// 5.0 MQTT-4.4.0-2: a PUBREC with a reason code of 0x80 or above ends the flow; the message is not resent.
    @Test func v5FailedPubRecIsNotRetransmitted() async throws {
        try await TestBroker.with { broker in
            let properties: Properties = [.sessionExpiryInterval(60)]
            let subscriber = try await broker.client("refuser", version: .v5, cleanStart: false, properties: properties)
            try await subscriber.subscribe("fail/#", qos: .exactlyOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.send(.publish(PublishPacket(topic: "fail/t", payload: ByteBuffer(string: "no"), qos: .exactlyOnce, packetIdentifier: 1)))
            _ = try await publisher.expectPubRec()
            let delivered = try await subscriber.expectPublish()
            try await subscriber.send(.pubRec(AcknowledgementPacket(packetIdentifier: delivered.packetIdentifier!, reasonCode: .unspecifiedError)))
            try await subscriber.send(.pingReq)
            #expect(try await subscriber.nextPacket() == .pingResp)
            await subscriber.drop()

            let (back, connAck) = try await broker.connect("refuser", version: .v5, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent == true)
            try await publisher.publish("fail/marker", "marker")
            #expect(try await back.expectPublish().topic == "fail/marker")
        }
    }

    /// 3.1.1 MQTT-4.3.3-2 and §4.1, 5.0 MQTT-4.3.3-10 and §4.1: the record of a QoS 2 message received but not
    /// released is session state, so a PUBLISH resent after reconnecting is still not delivered twice.
    @Test(arguments: versions)
    func inboundQoS2StateSurvivesReconnection(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let properties: Properties = version == .v5 ? [.sessionExpiryInterval(60)] : []
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("in2/#")
            let publisher = try await broker.client("sender", version: version, cleanStart: false, properties: properties)
            let message = PublishPacket(topic: "in2/t", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, packetIdentifier: 7)
            try await publisher.send(.publish(message))
            _ = try await publisher.expectPubRec()
            await publisher.drop()
            #expect(try await subscriber.expectPublish().payloadString == "once")

            let (back, connAck) = try await broker.connect("sender", version: version, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent == true)
            var resent = message
            resent.duplicate = true
            try await back.send(.publish(resent))
            #expect(try await back.expectPubRec().packetIdentifier == 7)
            try await back.send(.pubRel(AcknowledgementPacket(packetIdentifier: 7)))
            let pubComp = try await back.expectPubComp()
            #expect(pubComp.reasonCode == .success)
            try await back.publish("in2/marker", "marker")
            #expect(try await subscriber.expectPublish().topic == "in2/marker")
        }
    }

    /// 3.1.1 and 5.0 MQTT-4.6.0-6 with §4.9: the broker keeps at most its inflight window of QoS 1 messages
    /// unacknowledged; the rest wait in the session's queue and go out, in order, as acknowledgements free the
    /// window. A QoS 0 marker, which no window holds back, shows where the window closed.
    @Test(arguments: versions)
    func messagesBeyondTheInflightWindowAreDeliveredInOrder(version: ProtocolVersion) async throws {
        try await TestBroker.with({ $0.limits.maximumInflight = 4 }) { broker in
            let subscriber = try await broker.client("reader", version: version)
            try await subscriber.subscribe("many/#", qos: .atLeastOnce)
            let publisher = try await broker.client("writer", version: version)
            let count = 200
            try await publisher.send((1...count).map { index in
                .publish(PublishPacket(topic: "many/t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce, packetIdentifier: UInt16(index)))
            } + [.publish(PublishPacket(topic: "many/marker", payload: ByteBuffer(string: "marker")))])

            var received: [Int] = []
            var unacknowledged: [UInt16] = []
            func receive() async throws {
                let publish = try await subscriber.expectPublish()
                #expect(publish.duplicate == false)
                received.append(Int(publish.payloadString) ?? -1)
                unacknowledged.append(try #require(publish.packetIdentifier))
            }
            for _ in 0..<4 { try await receive() }
            #expect(try await subscriber.expectPublish().topic == "many/marker")
            while received.count < count {
                try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: unacknowledged.removeFirst())))
                try await receive()
            }
            #expect(received == Array(1...count))
            for _ in 1...count { _ = try await publisher.expectPubAck() }
        }
    }

    /// 3.1.1 MQTT-3.1.2-5, 5.0 MQTT-3.1.2-23 and §4.1: a persistent session keeps its subscriptions while the
    /// client is away and queues QoS 1 and 2 messages for it, sent on reconnection (first sends, so DUP 0).
    /// QoS 0 messages are not queued unless `queueQoS0WhileOffline` is set (both specifications leave it open).
    @Test(arguments: versions)
    func persistentSessionQueuesMessagesWhileOffline(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let properties: Properties = version == .v5 ? [.sessionExpiryInterval(60)] : []
            let subscriber = try await broker.client("offline", version: version, cleanStart: false, properties: properties)
            try await subscriber.subscribe("o/#", qos: .exactlyOnce)
            try await subscriber.disconnect()

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("o/1", "one")
            try await publisher.publish("o/0", "zero")
            try await publisher.send(.publish(PublishPacket(topic: "o/2", payload: ByteBuffer(string: "two"), qos: .exactlyOnce, packetIdentifier: 2)))
            _ = try await publisher.expectPubRec()
            try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: 2)))
            _ = try await publisher.expectPubComp()

            let (back, connAck) = try await broker.connect("offline", version: version, cleanStart: false, properties: properties)
            #expect(connAck.sessionPresent == true)
            let one = try await back.expectPublish()
            #expect(one.topic == "o/1")
            #expect(one.qos == .atLeastOnce)
            #expect(one.duplicate == false)
            let two = try await back.expectPublish()
            #expect(two.topic == "o/2")
            #expect(two.qos == .exactlyOnce)
            try await publisher.publish("o/marker", "marker")
            #expect(try await back.expectPublish().topic == "o/marker")
        }
    }

    /// 3.1.1 MQTT-3.1.2-6, 5.0 MQTT-3.1.2-4: Clean Start 1 discards the session, with its subscriptions and its
    /// queued messages.
    @Test(arguments: versions)
    func cleanStartDiscardsTheSession(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let properties: Properties = version == .v5 ? [.sessionExpiryInterval(60)] : []
            let subscriber = try await broker.client("cleaned", version: version, cleanStart: false, properties: properties)
            try await subscriber.subscribe("c/old", qos: .atLeastOnce)
            try await subscriber.disconnect()
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("c/old", "queued")

            let (fresh, connAck) = try await broker.connect("cleaned", version: version, cleanStart: true, properties: properties)
            #expect(connAck.sessionPresent == false)
            try await fresh.subscribe("c/new")
            try await publisher.publishQoS1("c/old", "after")
            try await publisher.publish("c/new", "marker")
            let first = try await fresh.expectPublish()
            #expect(first.topic == "c/new")
        }
    }

    /// 5.0 §3.1.2.11.2: without a Session Expiry Interval (or with 0) the session ends with the connection; a
    /// DISCONNECT may lower a non-zero interval to 0 (3.14.2.2.2) with the same effect.
    @Test func v5SessionWithoutExpiryEndsWithTheConnection() async throws {
        try await TestBroker.with { broker in
            let transient = try await broker.client("transient", version: .v5, cleanStart: false)
            try await transient.subscribe("s/t")
            try await transient.disconnect()
            #expect(try await broker.connect("transient", version: .v5, cleanStart: false).connAck.sessionPresent == false)

            let shortened = try await broker.client("shortened", version: .v5, cleanStart: false, properties: [.sessionExpiryInterval(60)])
            try await shortened.disconnect(properties: [.sessionExpiryInterval(0)])
            #expect(try await broker.connect("shortened", version: .v5, cleanStart: false).connAck.sessionPresent == false)
        }
    }

    /// 5.0 MQTT-3.1.2-23 and §4.1: a session outlives its connection by the Session Expiry Interval, then ends.
    /// The pause is the interval itself: there is no event to wait for.
    @Test func v5SessionEndsWhenItsExpiryIntervalRunsOut() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("expiring", version: .v5, cleanStart: false, properties: [.sessionExpiryInterval(1)])
            try await client.disconnect()
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(try await broker.connect("expiring", version: .v5, cleanStart: false).connAck.sessionPresent == false)
        }
    }

    /// 5.0 MQTT-3.3.4-9: the broker sends no more unacknowledged QoS 1 and 2 messages than the client's Receive
    /// Maximum; the rest wait for an acknowledgement. QoS 0 messages are not held back.
    @Test func v5ReceiveMaximumLimitsMessagesInFlight() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("slow", version: .v5, properties: [.receiveMaximum(2)])
            try await subscriber.subscribe("flow/#", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            for index in 1...3 { try await publisher.publishQoS1("flow/t", "\(index)", packetIdentifier: UInt16(index)) }
            try await publisher.publish("flow/marker", "marker")

            let first = try await subscriber.expectPublish()
            #expect(first.payloadString == "1")
            #expect(try await subscriber.expectPublish().payloadString == "2")
            #expect(try await subscriber.expectPublish().topic == "flow/marker")
            try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!)))
            #expect(try await subscriber.expectPublish().payloadString == "3")
        }
    }
}
