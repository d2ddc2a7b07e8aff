import NIOCore
@testable import StarlingClient
import StarlingTestSupport
import Testing

/// Protocol behaviour checked packet by packet against a broker the test scripts.
@Suite(.timeLimit(.minutes(1)))
struct ScriptedBrokerTests {
    static func configuration(_ broker: ScriptedBroker, version: ProtocolVersion = .v5) throws -> MQTTClientConfiguration {
        var configuration = try MQTTClientConfiguration(url: broker.url)
        configuration.protocolVersion = version
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))
        return configuration
    }

    /// Runs `client.run()` beside `body`, then disconnects; returns what `run()` threw, if anything.
    @discardableResult
    /// With `disconnecting` false the client must end by itself.
    static func withRunningClient(
        _ configuration: MQTTClientConfiguration, disconnecting: Bool = true,
        _ body: (MQTTClient, AsyncStream<ConnectionEvent>.AsyncIterator) async throws -> Void
    ) async throws -> MQTTClientError? {
        let client = MQTTClient(configuration: configuration)
        let events = client.connectionEvents().makeAsyncIterator()
        return try await withThrowingTaskGroup(of: MQTTClientError?.self) { group in
            group.addTask {
                do {
                    try await client.run()
                    return nil
                } catch let error as MQTTClientError {
                    return error
                }
            }
            try await body(client, events)
            if disconnecting { await client.disconnect() }
            return try await group.next()!
        }
    }

    static func publish(_ packet: Packet) throws -> PublishPacket {
        guard case .publish(let publish) = packet else { throw ScriptedConnection.Unexpected() }
        return publish
    }

    @Test func unacknowledgedPublishesAreResentWithDuplicateFlagAfterReconnect() async throws {
        let broker = try await ScriptedBroker()
        var configuration = try Self.configuration(broker)
        configuration.sessionExpiryInterval = 600
        try await Self.withRunningClient(configuration) { client, _ in
            let first = try await broker.accept()
            let connect = try await first.handshake()
            #expect(connect.cleanStart == true)
            #expect(connect.properties.sessionExpiryInterval == 600)

            async let atLeastOnce = client.publish(topic: "a", payload: "one", qos: .atLeastOnce)
            let one = try Self.publish(try await first.receive())
            async let exactlyOnce = client.publish(topic: "b", payload: "two", qos: .exactlyOnce)
            let two = try Self.publish(try await first.receive())
            #expect(one.duplicate == false && two.duplicate == false)
            try await first.send(.pubRec(AcknowledgementPacket(packetIdentifier: two.packetIdentifier!)))
            #expect(try await first.receive() == .pubRel(AcknowledgementPacket(packetIdentifier: two.packetIdentifier!)))
            await first.close()

            let second = try await broker.accept()
            let reconnect = try await second.handshake(ConnAckPacket(sessionPresent: true))
            // The session outlives the connection, so the client asks to resume it.
            #expect(reconnect.cleanStart == false)
            let resent = try Self.publish(try await second.receive())
            #expect(resent.duplicate == true)
            #expect(resent.packetIdentifier == one.packetIdentifier)
            #expect(resent.topic == "a" && String(buffer: resent.payload) == "one")
            // QoS 2 past PUBREC resumes with PUBREL, never with the message again.
            #expect(try await second.receive() == .pubRel(AcknowledgementPacket(packetIdentifier: two.packetIdentifier!)))
            try await second.send(.pubAck(AcknowledgementPacket(packetIdentifier: one.packetIdentifier!)))
            try await second.send(.pubComp(AcknowledgementPacket(packetIdentifier: two.packetIdentifier!)))
            #expect(try await atLeastOnce.reasonCode == .success)
            #expect(try await exactlyOnce.reasonCode == .success)
        }
        await broker.close()
    }

    @Test func publishesAreSentAgainWithoutDuplicateFlagWhenTheBrokerLostTheSession() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { client, _ in
            let first = try await broker.accept()
            try await first.handshake()
            async let published = client.publish(topic: "a", payload: "one", qos: .atLeastOnce)
            _ = try Self.publish(try await first.receive())
            await first.close()

            let second = try await broker.accept()
            try await second.handshake(ConnAckPacket(sessionPresent: false))
            let again = try Self.publish(try await second.receive())
            #expect(again.duplicate == false)
            #expect(String(buffer: again.payload) == "one")
            try await second.send(.pubAck(AcknowledgementPacket(packetIdentifier: again.packetIdentifier!)))
            #expect(try await published.reasonCode == .success)
        }
        await broker.close()
    }

    @Test func brokerReceiveMaximumLimitsPublishesInFlight() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { client, events in
            var events = events
            let connection = try await broker.accept()
            try await connection.handshake(ConnAckPacket(properties: [.receiveMaximum(2)]))
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            // Four publishes and then an UNSUBSCRIBE, all handed to the client at once: only two publishes may be
            // in flight, so the UNSUBSCRIBE overtakes the other two.
            let results = try await client.withCore { core in
                let futures = (1...4).map { index in
                    let promise = core.eventLoop.makePromise(of: PublishResult.self)
                    core.publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce), promise: promise)
                    return promise.futureResult
                }
                core.unsubscribe(["marker"], properties: [], promise: nil)
                return futures
            }
            let p1 = try Self.publish(try await connection.receive())
            let p2 = try Self.publish(try await connection.receive())
            guard case .unsubscribe(let marker) = try await connection.receive() else { throw ScriptedConnection.Unexpected() }
            #expect([p1, p2].map { String(buffer: $0.payload) } == ["1", "2"])
            try await connection.send(.pubAck(AcknowledgementPacket(packetIdentifier: p1.packetIdentifier!)))
            let p3 = try Self.publish(try await connection.receive())
            #expect(String(buffer: p3.payload) == "3")
            try await connection.send(.pubAck(AcknowledgementPacket(packetIdentifier: p2.packetIdentifier!)))
            let p4 = try Self.publish(try await connection.receive())
            #expect(String(buffer: p4.payload) == "4")
            for packet in [p3, p4] { try await connection.send(.pubAck(AcknowledgementPacket(packetIdentifier: packet.packetIdentifier!))) }
            try await connection.send(.unsubAck(UnsubAckPacket(packetIdentifier: marker.packetIdentifier, reasonCodes: [.success])))
            for result in results { #expect(try await result.get().reasonCode == .success) }
        }
        await broker.close()
    }

    @Test func publishLargerThanBrokerMaximumPacketSizeFailsWithoutBeingSent() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { client, events in
            var events = events
            let connection = try await broker.accept()
            try await connection.handshake(ConnAckPacket(properties: [.maximumPacketSize(64)]))
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            let error = await #expect(throws: MQTTClientError.self) {
                try await client.publish(topic: "big", payload: String(repeating: "x", count: 100), qos: .atLeastOnce)
            }
            #expect(error?.code == .packetTooLarge)
            try await client.publish(topic: "small", payload: "x")
            #expect(try Self.publish(try await connection.receive()).topic == "small")
        }
        await broker.close()
    }

    @Test func refusedPublishCarriesTheReasonCodeAndString() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { client, _ in
            let connection = try await broker.accept()
            try await connection.handshake()
            async let attempt: PublishResult = client.publish(topic: "secret", payload: "x", qos: .atLeastOnce)
            let publish = try Self.publish(try await connection.receive())
            try await connection.send(.pubAck(AcknowledgementPacket(
                packetIdentifier: publish.packetIdentifier!, reasonCode: .notAuthorized, properties: [.reasonString("no secrets")])))
            do {
                _ = try await attempt
                Issue.record("the publish should have been refused")
            } catch let error as MQTTClientError {
                #expect(error.code == .publishRefused)
                #expect(error.reasonCode == .notAuthorized)
                #expect(error.reasonString == "no secrets")
            }
            // A non-failure reason code is a result, not an error.
            async let second = client.publish(topic: "nobody", payload: "x", qos: .atLeastOnce)
            let next = try Self.publish(try await connection.receive())
            try await connection.send(.pubAck(AcknowledgementPacket(packetIdentifier: next.packetIdentifier!, reasonCode: .noMatchingSubscribers)))
            #expect(try await second.reasonCode == .noMatchingSubscribers)
        }
        await broker.close()
    }

    /// With `retriesFirstConnection`, a client started before its broker waits for it instead of failing.
    @Test func aFirstConnectionWaitsForABrokerNotYetUp() async throws {
        // Held, bound but not listening, until the broker takes it: connections are refused meanwhile, and no
        // other test can take the port (a port merely freed was once taken between close and bind).
        let reserved = try ReservedPort()
        let port = reserved.port
        var configuration = try MQTTClientConfiguration(url: "mqtt://127.0.0.1:\(port)")
        configuration.reconnect = ReconnectPolicy(
            initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100), retriesFirstConnection: true)
        let client = MQTTClient(configuration: configuration)
        var events = client.connectionEvents().makeAsyncIterator()
        async let connected: Bool = client.withConnection { _ in true }
        // Refused at first: the client says it will try again.
        var retrying = false
        while let event = await events.next() {
            if case .reconnecting = event { retrying = true; break }
        }
        #expect(retrying)
        guard retrying else {
            reserved.release()
            return
        }
        reserved.release()
        let broker = try await ScriptedBroker(port: port)
        try await broker.accept().handshake()
        #expect(try await connected)
        await broker.close()
    }

    @Test func unansweredPingEndsTheConnectionWithKeepAliveTimeout() async throws {
        let broker = try await ScriptedBroker()
        var configuration = try Self.configuration(broker)
        configuration.keepAlive = 1
        // Generous, so that a busy test machine answering the first ping late does not end the connection early
        // (2 s was not enough with the machine's cores all taken).
        configuration.pingTimeout = .seconds(5)
        configuration.reconnect = .disabled
        let error = try await Self.withRunningClient(configuration, disconnecting: false) { _, _ in
            let connection = try await broker.accept()
            let connect = try await connection.handshake()
            #expect(connect.keepAlive == 1)
            #expect(try await connection.receive() == .pingReq)
            try await connection.send(.pingResp)
            #expect(try await connection.receive() == .pingReq)
            // No answer this time: the client must give up on the connection.
            #expect(await connection.closesWithoutSending())
        }
        #expect(error?.code == .keepAliveTimeout)
        await broker.close()
    }

    @Test func brokerDisconnectIsReportedWithItsReason() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { _, events in
            var events = events
            let connection = try await broker.accept()
            try await connection.handshake()
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            try await connection.send(.disconnect(DisconnectPacket(reasonCode: .serverShuttingDown, properties: [.reasonString("maintenance")])))
            guard case .disconnected(let error) = await events.next() else { throw ScriptedConnection.Unexpected() }
            #expect(error?.code == .disconnectedByBroker)
            #expect(error?.reasonCode == .serverShuttingDown)
            #expect(error?.reasonString == "maintenance")
            // Shutting down is temporary: the client comes back.
            try await broker.accept().handshake()
            guard case .reconnecting = await events.next(), case .connected = await events.next() else {
                throw ScriptedConnection.Unexpected()
            }
        }
        await broker.close()
    }

    @Test func sessionTakenOverIsNotFoughtBack() async throws {
        let broker = try await ScriptedBroker()
        let error = try await Self.withRunningClient(try Self.configuration(broker), disconnecting: false) { _, _ in
            let connection = try await broker.accept()
            try await connection.handshake()
            try await connection.send(.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver)))
            _ = await connection.closesWithoutSending()
        }
        #expect(error?.code == .disconnectedByBroker)
        #expect(error?.reasonCode == .sessionTakenOver)
        await broker.close()
    }

    @Test func missingConnAckTimesOut() async throws {
        let broker = try await ScriptedBroker()
        var configuration = try Self.configuration(broker)
        configuration.connectTimeout = .milliseconds(300)
        let error = await #expect(throws: MQTTClientError.self) {
            try await withMQTTClient(configuration: configuration) { _ in }
        }
        #expect(error?.code == .timedOut)
        await broker.close()
    }

    @Test func inboundTopicAliasesAreResolved() async throws {
        let broker = try await ScriptedBroker()
        var configuration = try Self.configuration(broker)
        configuration.topicAliasMaximum = 4
        try await Self.withRunningClient(configuration) { client, events in
            var events = events
            let messages = client.messages()
            let connection = try await broker.accept()
            let connect = try await connection.handshake()
            #expect(connect.properties.topicAliasMaximum == 4)
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            try await connection.send(.publish(PublishPacket(topic: "sensors/1", payload: ByteBuffer(string: "a"), properties: [.topicAlias(2)])))
            try await connection.send(.publish(PublishPacket(topic: "", payload: ByteBuffer(string: "b"), properties: [.topicAlias(2)])))
            var iterator = messages.makeAsyncIterator()
            #expect(try await iterator.next()?.topic == "sensors/1")
            let second = try #require(try await iterator.next())
            #expect(second.topic == "sensors/1" && second.payloadString == "b")
            // An alias above the announced maximum is a protocol error: DISCONNECT 0x94, then close.
            try await connection.send(.publish(PublishPacket(topic: "x", payload: ByteBuffer(), properties: [.topicAlias(5)])))
            guard case .disconnect(let disconnect) = try await connection.receive() else { throw ScriptedConnection.Unexpected() }
            #expect(disconnect.reasonCode == .topicAliasInvalid)
        }
        await broker.close()
    }

    @Test func outboundTopicAliasesReplaceRepeatedTopics() async throws {
        let broker = try await ScriptedBroker()
        try await Self.withRunningClient(try Self.configuration(broker)) { client, events in
            var events = events
            let connection = try await broker.accept()
            try await connection.handshake(ConnAckPacket(properties: [.topicAliasMaximum(1)]))
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            for topic in ["long/topic/name", "long/topic/name", "other"] { try await client.publish(topic: topic, payload: "x") }
            let first = try Self.publish(try await connection.receive())
            let second = try Self.publish(try await connection.receive())
            let third = try Self.publish(try await connection.receive())
            #expect(first.topic == "long/topic/name" && first.properties.topicAlias == 1)
            #expect(second.topic == "" && second.properties.topicAlias == 1)
            // The broker allows one alias, already taken.
            #expect(third.topic == "other" && third.properties.topicAlias == nil)
        }
        await broker.close()
    }

    @Test func resentQoS2MessageIsDeliveredOnce() async throws {
        let broker = try await ScriptedBroker(version: .v3_1_1)
        try await Self.withRunningClient(try Self.configuration(broker, version: .v3_1_1)) { client, events in
            var events = events
            let messages = client.messages()
            let connection = try await broker.accept()
            try await connection.handshake()
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            let message = PublishPacket(topic: "t", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, packetIdentifier: 7)
            try await connection.send(.publish(message))
            #expect(try await connection.receive() == .pubRec(AcknowledgementPacket(packetIdentifier: 7)))
            var duplicate = message
            duplicate.duplicate = true
            try await connection.send(.publish(duplicate))
            #expect(try await connection.receive() == .pubRec(AcknowledgementPacket(packetIdentifier: 7)))
            try await connection.send(.pubRel(AcknowledgementPacket(packetIdentifier: 7)))
            #expect(try await connection.receive() == .pubComp(AcknowledgementPacket(packetIdentifier: 7)))
            try await connection.send(.publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "next"))))
            var iterator = messages.makeAsyncIterator()
            #expect(try await iterator.next()?.payloadString == "once")
            #expect(try await iterator.next()?.payloadString == "next")
        }
        await broker.close()
    }
}

extension ScriptedBrokerTests {
    @Test func cancellingRunDisconnectsCleanly() async throws {
        let broker = try await ScriptedBroker()
        let client = MQTTClient(configuration: try Self.configuration(broker))
        var events = client.connectionEvents().makeAsyncIterator()
        let running = Task { try await client.run() }
        let connection = try await broker.accept()
        try await connection.handshake()
        guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
        running.cancel()
        #expect(try await connection.receive() == .disconnect(DisconnectPacket(reasonCode: .normalDisconnection)))
        #expect(await connection.closesWithoutSending())
        try await running.value
        let late = await #expect(throws: MQTTClientError.self) { try await client.publish(topic: "t", payload: "x") }
        #expect(late?.code == .clientShutdown)
        await broker.close()
    }

    /// A consumer that falls behind makes the client stop reading from the broker once `messageBufferLimit`
    /// messages wait unread, and read again once it catches up; nothing is lost or reordered meanwhile, and QoS 1
    /// messages are acknowledged as they reach the stream.
    @Test func aLaggingConsumerPausesReadingFromTheBroker() async throws {
        let broker = try await ScriptedBroker()
        var configuration = try Self.configuration(broker)
        configuration.messageBufferLimit = 4
        try await Self.withRunningClient(configuration) { client, events in
            var events = events
            let connection = try await broker.accept()
            _ = try await connection.handshake()
            guard case .connected = await events.next() else { throw ScriptedConnection.Unexpected() }
            async let subscribing = client.subscribe(to: "flood", qos: .atLeastOnce)
            guard case .subscribe(let subscribe) = try await connection.receive() else { throw ScriptedConnection.Unexpected() }
            try await connection.send(.subAck(SubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: [.grantedQoS1])))
            let subscription = try await subscribing

            let count = 200
            let payload = String(repeating: "x", count: 1_024)
            for index in 0..<count {
                try await connection.send(.publish(PublishPacket(
                    topic: "flood", payload: ByteBuffer(string: "\(index) \(payload)"), qos: .atLeastOnce,
                    packetIdentifier: UInt16(index + 1))))
            }
            guard case .receivingPaused = await events.next() else { throw ScriptedConnection.Unexpected() }

            var received: [Int] = []
            for try await message in subscription {
                received.append(Int(message.payloadString.prefix { $0 != " " })!)
                if received.count == count { break }
            }
            #expect(received == Array(0..<count))
            guard case .receivingResumed = await events.next() else { throw ScriptedConnection.Unexpected() }
            var acknowledged: [UInt16] = []
            while acknowledged.count < count {
                guard case .pubAck(let ack) = try await connection.receive() else { throw ScriptedConnection.Unexpected() }
                acknowledged.append(ack.packetIdentifier)
            }
            #expect(acknowledged == (1...UInt16(count)).map { $0 })
        }
    }
}
