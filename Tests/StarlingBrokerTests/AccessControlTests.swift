import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The ACL in a running broker: SUBSCRIBE, PUBLISH, retained messages and each delivery, per protocol version.
@Suite struct AccessControlTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    static let rules = """
        topic read public/#

        user alice
        topic readwrite alice/#
        topic deny alice/secret/#
        topic read shared/#

        user bob
        topic write shared/#
        topic write alice/inbox

        pattern readwrite devices/%u/#
        pattern write clients/%c/status
        """

    static func control(_ text: String = rules) throws -> AccessControl {
        AccessControl(try AccessControlList(contents: text))
    }

    static func login(_ broker: TestBroker, _ user: String?, id: String, version: ProtocolVersion = .v5) async throws -> RawClient {
        let client = try await AuthenticationTests.connect(broker, id, version: version, userName: user)
        let connAck = try await client.expectConnAck()
        guard connAck.reasonCode == .success else { throw RawClient.Failure(description: "\(id) refused: \(connAck)") }
        return client
    }

    /// 5.0 3.9.3: Not authorized (0x87); 3.1.1 3.9.3: Failure (0x80); granted subscriptions in the same
    /// SUBSCRIBE are unaffected.
    @Test(arguments: versions)
    func subscriptionsOutsideTheRulesAreRefused(version: ProtocolVersion) async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let alice = try await Self.login(broker, "alice", id: "a", version: version)
            let codes = try await alice.subscribe([
                ("alice/#", SubscriptionOptions(qos: .atLeastOnce)),
                ("bob/#", SubscriptionOptions(qos: .atLeastOnce)),
                ("#", SubscriptionOptions(qos: .atMostOnce)),
                ("alice/secret/+", SubscriptionOptions(qos: .atMostOnce)),
                ("devices/alice/+", SubscriptionOptions(qos: .atMostOnce)),
            ])
            let refused: ReasonCode = version == .v5 ? .notAuthorized : .subscriptionFailure
            #expect(codes == [.grantedQoS1, refused, refused, refused, .grantedQoS0])
        }
    }

    /// 5.0: a refused QoS 1 PUBLISH gets PUBACK 0x87 and a QoS 2 one PUBREC 0x87; nothing is delivered.
    @Test func v5PublishesOutsideTheRulesGetNotAuthorized() async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let alice = try await Self.login(broker, "alice", id: "a")
            try await alice.subscribe("alice/#", qos: .atLeastOnce)
            let bob = try await Self.login(broker, "bob", id: "b")
            try await bob.send(.publish(PublishPacket(topic: "alice/diary", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetIdentifier: 1)))
            #expect(try await bob.expectPubAck().reasonCode == .notAuthorized)
            try await bob.send(.publish(PublishPacket(topic: "alice/diary", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetIdentifier: 2)))
            #expect(try await bob.expectPubRec().reasonCode == .notAuthorized)
            // QoS 0 has no answer: it is dropped.
            try await bob.publish("alice/diary", "dropped")
            // Allowed: delivered, so the refused ones would have arrived before it.
            #expect(try await bob.publishQoS1("alice/inbox", "hello", packetIdentifier: 3).reasonCode == .success)
            let received = try await alice.expectPublish()
            #expect(received.topic == "alice/inbox")
            #expect(received.payloadString == "hello")
        }
    }

    /// 3.1.1 cannot refuse a PUBLISH: it is acknowledged as usual and dropped.
    @Test func v311PublishesOutsideTheRulesAreAcknowledgedAndDropped() async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let alice = try await Self.login(broker, "alice", id: "a")
            try await alice.subscribe("alice/#", qos: .atLeastOnce)
            let bob = try await Self.login(broker, "bob", id: "b", version: .v3_1_1)
            #expect(try await bob.publishQoS1("alice/diary", "refused", packetIdentifier: 1).packetIdentifier == 1)
            try await bob.send(.publish(PublishPacket(topic: "alice/diary", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetIdentifier: 2)))
            #expect(try await bob.expectPubRec().packetIdentifier == 2)
            try await bob.send(.pubRel(AcknowledgementPacket(packetIdentifier: 2)))
            #expect(try await bob.expectPubComp().reasonCode == .success)
            try await bob.publishQoS1("alice/inbox", "allowed", packetIdentifier: 3)
            #expect(try await alice.expectPublish().payloadString == "allowed")
        }
    }

    /// A wildcard subscription that the rules allow does not deliver messages on topics a deny rule covers.
    @Test(arguments: versions)
    func eachDeliveryIsChecked(version: ProtocolVersion) async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let alice = try await Self.login(broker, "alice", id: "a", version: version)
            try await alice.subscribe("alice/#", qos: .atLeastOnce)
            await broker.broker.publish(topic: "alice/secret/plan", payload: "hidden", qos: .atLeastOnce)
            await broker.broker.publish(topic: "alice/open", payload: "visible", qos: .atLeastOnce)
            let received = try await alice.expectPublish()
            #expect(received.topic == "alice/open")
            try await alice.send(.pubAck(AcknowledgementPacket(packetIdentifier: received.packetIdentifier!)))
        }
    }

    /// Retained messages on topics the client may not read are not sent on SUBSCRIBE.
    @Test(arguments: versions)
    func retainedMessagesAreChecked(version: ProtocolVersion) async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            await broker.broker.publish(topic: "alice/secret/key", payload: "hidden", retain: true)
            await broker.broker.publish(topic: "alice/profile", payload: "visible", retain: true)
            let alice = try await Self.login(broker, "alice", id: "a", version: version)
            try await alice.subscribe("alice/#")
            let received = try await alice.expectPublish()
            #expect(received.topic == "alice/profile")
            #expect(received.retain)
            try await alice.send(.pingReq)
            #expect(try await alice.nextPacket() == .pingResp)
        }
    }

    /// `%u` and `%c` give each client its own subtree; anonymous clients get only the anonymous rules.
    @Test func patternsGiveEachClientItsOwnTopics() async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let carol = try await Self.login(broker, "carol", id: "carol-1")
            #expect(try await carol.subscribe("devices/carol/#") == [.grantedQoS0])
            #expect(try await carol.subscribe("devices/+/lamp", packetIdentifier: 2) == [.notAuthorized])
            #expect(try await carol.publishQoS1("clients/carol-1/status", "up", packetIdentifier: 1).reasonCode != .notAuthorized)
            #expect(try await carol.publishQoS1("clients/carol-2/status", "up", packetIdentifier: 2).reasonCode == .notAuthorized)
            try await carol.send(.publish(PublishPacket(topic: "devices/carol/lamp", payload: ByteBuffer(string: "on"), qos: .atLeastOnce, packetIdentifier: 3)))
            // Her own subscription gets the message before she gets the PUBACK.
            #expect(try await carol.expectPublish().topic == "devices/carol/lamp")
            #expect(try await carol.expectPubAck().reasonCode == .success)

            let anonymous = try await Self.login(broker, nil, id: "anon")
            #expect(try await anonymous.subscribe([("public/#", SubscriptionOptions()), ("devices/#", SubscriptionOptions())]) == [.grantedQoS0, .notAuthorized])
            #expect(try await anonymous.publishQoS1("public/news", "x").reasonCode == .notAuthorized)
        }
    }

    /// A user named `%c` who picks alice's client identifier gets no access to alice's devices, whether the
    /// name comes from the password file or from an embedder's authenticator.
    @Test func aUserNamedAfterAPlaceholderDoesNotReachAnotherClientsTopics() async throws {
        let control = try Self.control("pattern readwrite devices/%u/#")
        let passwords = PasswordFileAuthenticator(PasswordAuthenticationTests.users(["%c": "pw", "alice": "secret"]))
        try await TestBroker.with(authenticator: passwords, accessControl: control) { broker in
            let alice = try await AuthenticationTests.connect(broker, "alice-phone", userName: "alice", password: "secret")
            #expect(try await alice.expectConnAck().reasonCode == .success)
            #expect(try await alice.subscribe("devices/alice/#") == [.grantedQoS0])

            let mallory = try await AuthenticationTests.connect(broker, "alice", userName: "%c", password: "pw")
            #expect(try await mallory.expectConnAck().reasonCode == .success)
            #expect(try await mallory.subscribe("devices/alice/#") == [.notAuthorized])
            #expect(try await mallory.publishQoS1("devices/alice/lamp", "off").reasonCode == .notAuthorized)
            try await alice.publish("devices/alice/marker", "m")
            #expect(try await alice.expectPublish().topic == "devices/alice/marker")
        }
    }

    /// A user name an authenticator names goes through the same rules: one with a separator or a wildcard
    /// makes a `%u` pattern grant nothing.
    @Test(arguments: ["%c", "alice/#", "+", "a/b"])
    func aUserNameFromTheAuthenticatorCannotWidenAPattern(name: String) async throws {
        let control = try Self.control("pattern readwrite devices/%u/#")
        let authenticator = AuthenticationTests.Authenticator { _ in .accept(userName: name) }
        try await TestBroker.with(authenticator: authenticator, accessControl: control) { broker in
            let client = try await AuthenticationTests.connect(broker, "alice", userName: "anyone", password: "x")
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(try await client.subscribe("devices/alice/#") == [.notAuthorized])
            #expect(try await client.subscribe("devices/#", packetIdentifier: 2) == [.notAuthorized])
            #expect(try await client.publishQoS1("devices/alice/lamp", "off").reasonCode == .notAuthorized)
        }
    }

    /// `#` never matches `$SYS` topics; reading them needs a rule naming them.
    @Test func aSubscriptionToEverythingDoesNotLeakSys() async throws {
        let control = try Self.control("topic readwrite #")
        try await TestBroker.with(accessControl: control) { broker in
            let client = try await Self.login(broker, nil, id: "all")
            #expect(try await client.subscribe([("#", SubscriptionOptions()), ("$SYS/#", SubscriptionOptions())]) == [.grantedQoS0, .notAuthorized])
            await broker.broker.publish(topic: "$SYS/broker/clients", payload: "1")
            await broker.broker.publish(topic: "ordinary", payload: "2")
            #expect(try await client.expectPublish().topic == "ordinary")
        }
    }

    /// A will on a topic the client may not write is refused at CONNECT with Not authorized, as Mosquitto does.
    @Test(arguments: versions)
    func aWillOutsideTheRulesRefusesTheConnect(version: ProtocolVersion) async throws {
        try await TestBroker.with(accessControl: try Self.control()) { broker in
            let client = try await broker.open(version: version)
            try await client.send(.connect(ConnectPacket(
                protocolVersion: version, clientIdentifier: "w", userName: "bob",
                will: .init(topic: "alice/diary", payload: ByteBuffer(string: "gone")))))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == (version == .v5 ? .notAuthorized : ConnectReturnCode.notAuthorized.reasonCode))
            try await client.expectClosed()
        }
    }

    /// New rules take effect on connected clients at their next message, without a reconnect.
    @Test func updatedRulesApplyToConnectedClients() async throws {
        let control = try Self.control()
        try await TestBroker.with(accessControl: control) { broker in
            let alice = try await Self.login(broker, "alice", id: "a")
            try await alice.subscribe("alice/#")
            await broker.broker.publish(topic: "alice/one", payload: "before")
            #expect(try await alice.expectPublish().payloadString == "before")

            control.update(try AccessControlList(contents: "user alice\ntopic read alice/#\ntopic deny alice/one"))
            await broker.broker.publish(topic: "alice/one", payload: "withheld")
            await broker.broker.publish(topic: "alice/two", payload: "after")
            #expect(try await alice.expectPublish().payloadString == "after")
            #expect(try await alice.publishQoS1("alice/x", "no longer writable").reasonCode == .notAuthorized)
        }
    }
}
