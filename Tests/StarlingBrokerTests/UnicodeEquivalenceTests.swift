import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Topics, filters, client identifiers and user names are compared as bytes (MQTT-4.7.3-4), never as
/// Unicode text: Swift's `==` holds "cafe\u{301}" (e + combining acute) and "caf\u{e9}" (é) equal, and
/// the Ohm sign U+2126 equal to Omega U+03A9, but to MQTT each pair is two different names.
@Suite struct UnicodeEquivalenceTests {
    static let decomposed = "cafe\u{301}"
    static let precomposed = "caf\u{e9}"
    static let ohm = "\u{2126}"
    static let omega = "\u{3a9}"

    @Test func theNamesAreEqualAsSwiftStringsButNotAsBytes() {
        #expect(Self.decomposed == Self.precomposed)
        #expect(Self.ohm == Self.omega)
        #expect(!Self.decomposed.hasSameBytes(as: Self.precomposed))
        #expect(ExactString(Self.ohm) != ExactString(Self.omega))
        #expect(ExactString(Self.ohm) == ExactString("\u{2126}"))
        #expect(Set([ExactString(Self.decomposed), ExactString(Self.precomposed)]).count == 2)
        #expect(!TopicFilter.matches(filter: Self.decomposed + "/#", topic: Self.precomposed + "/x"))
    }

    /// A subscription to `cafe\u{301}/#` does not receive `caf\u{e9}/x`, nor the Ohm sign's the Omega's;
    /// a marker on the subscribed topic shows that nothing else came before it.
    @Test(arguments: [(decomposed, precomposed), (precomposed, decomposed), (ohm, omega), (omega, ohm)])
    func aSubscriptionDoesNotMatchAnEquivalentTopic(names: (String, String)) async throws {
        let (subscribed, published) = names
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber")
            try await subscriber.subscribe([
                ("\(subscribed)/#", SubscriptionOptions()), ("\(subscribed)", SubscriptionOptions()), ("+/\(subscribed)", SubscriptionOptions()),
            ])
            let publisher = try await broker.client("publisher")
            try await publisher.publish("\(published)/x", "wrong")
            try await publisher.publish(published, "wrong")
            try await publisher.publish("a/\(published)", "wrong")
            try await publisher.publish("\(subscribed)/marker", "marker")
            let received = try await subscriber.publishes { $0.hasSameBytes(as: "\(subscribed)/marker") }
            #expect(received.isEmpty, "\(received.map(\.topic))")
        }
    }

    /// Retained messages on equivalent topics are two messages: neither replaces the other, and each is sent
    /// only to subscriptions of its own bytes, with or without wildcards.
    @Test func retainedMessagesAreKeptAndFoundByBytes() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher")
            try await publisher.publishQoS1("\(Self.precomposed)/x", "precomposed", packetIdentifier: 1, retain: true)
            try await publisher.publishQoS1("\(Self.decomposed)/x", "decomposed", packetIdentifier: 2, retain: true)
            #expect(try await broker.broker.statistics().retainedMessages == 2)

            let exact = try await broker.client("exact")
            try await exact.subscribe("\(Self.decomposed)/x")
            let exactMessage = try await exact.expectPublish()
            #expect(exactMessage.payloadString == "decomposed")
            #expect(exactMessage.topic.hasSameBytes(as: "\(Self.decomposed)/x"))

            let wildcard = try await broker.client("wildcard")
            try await wildcard.subscribe("\(Self.precomposed)/#")
            #expect(try await wildcard.expectPublish().payloadString == "precomposed")
            try await publisher.publish("\(Self.precomposed)/marker", "marker")
            #expect(try await wildcard.expectPublish().payloadString == "marker")

            // Deleting one leaves the other.
            try await publisher.publishQoS1("\(Self.precomposed)/x", "", packetIdentifier: 3, retain: true)
            #expect(try await broker.broker.statistics().retainedMessages == 1)
        }
    }

    /// A client whose identifier is equivalent to a connected client's has a session of its own: no take-over.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func equivalentClientIdentifiersAreDifferentClients(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let first = try await broker.client(Self.precomposed, version: version, cleanStart: false)
            let (second, connAck) = try await broker.connect(Self.decomposed, version: version, cleanStart: false)
            #expect(connAck.sessionPresent == false)
            for client in [first, second] {
                try await client.send(.pingReq)
                #expect(try await client.nextPacket() == .pingResp)
            }
            #expect(try await broker.broker.statistics().sessions == 2)
        }
    }

    /// One session's subscriptions to equivalent filters are two subscriptions: unsubscribing one keeps the other.
    @Test func equivalentFiltersAreDifferentSubscriptions() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber")
            try await subscriber.subscribe([(Self.precomposed, SubscriptionOptions()), (Self.decomposed, SubscriptionOptions())])
            try await subscriber.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: [Self.precomposed])))
            _ = try await subscriber.expectUnsubAck()
            let publisher = try await broker.client("publisher")
            try await publisher.publish(Self.precomposed, "gone")
            try await publisher.publish(Self.decomposed, "kept")
            let received = try await subscriber.expectPublish()
            #expect(received.payloadString == "kept")
        }
    }

    /// `$share/g\u{e9}/t` and `$share/ge\u{301}/t` are two groups, each of which gets the message.
    @Test func equivalentShareNamesAreDifferentGroups() async throws {
        try await TestBroker.with { broker in
            let one = try await broker.client("one")
            try await one.subscribe("$share/g\u{e9}/t")
            let two = try await broker.client("two")
            try await two.subscribe("$share/ge\u{301}/t")
            let publisher = try await broker.client("publisher")
            try await publisher.publish("t", "both")
            #expect(try await one.expectPublish().payloadString == "both")
            #expect(try await two.expectPublish().payloadString == "both")
        }
    }

    /// An outbound Topic Alias stands for the bytes it was set up for: an equivalent topic gets its own.
    @Test func anOutboundAliasIsNotReusedForAnEquivalentTopic() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", properties: [.topicAliasMaximum(4)])
            try await subscriber.subscribe("+")
            let publisher = try await broker.client("publisher")
            try await publisher.publish(Self.precomposed, "1")
            try await publisher.publish(Self.decomposed, "2")
            let first = try await subscriber.expectPublish()
            let second = try await subscriber.expectPublish()
            #expect(first.topic.hasSameBytes(as: Self.precomposed))
            #expect(second.topic.hasSameBytes(as: Self.decomposed))
            #expect(first.properties.topicAlias != second.properties.topicAlias)
        }
    }

    /// ACL rules, user sections and the per-connection cache of answers all go by bytes.
    @Test func accessControlComparesBytes() async throws {
        let control = AccessControl(try AccessControlList(contents: """
            user jos\u{e9}
            topic readwrite \(Self.precomposed)/#

            user bob
            topic readwrite \(Self.precomposed)/#
            """))
        try await TestBroker.with(accessControl: control) { broker in
            let impostor = try await AccessControlTests.login(broker, "jose\u{301}", id: "impostor")
            #expect(try await impostor.subscribe("\(Self.precomposed)/#") == [.notAuthorized])

            let bob = try await AccessControlTests.login(broker, "bob", id: "bob")
            #expect(try await bob.subscribe("\(Self.decomposed)/#") == [.notAuthorized])
            // The first answer is remembered per topic; an equivalent topic must get its own.
            #expect(try await bob.publishQoS1("\(Self.precomposed)/x", "allowed", packetIdentifier: 1).reasonCode != .notAuthorized)
            #expect(try await bob.publishQoS1("\(Self.decomposed)/x", "refused", packetIdentifier: 2).reasonCode == .notAuthorized)
        }
        let rules = control.list.rules(userName: "bob", clientIdentifier: "bob")
        #expect(!rules.maySubscribe("\(Self.decomposed)/#"))
        #expect(!rules.mayReceive("\(Self.decomposed)/x"))
        #expect(rules.mayReceive("\(Self.precomposed)/x"))
        #expect(control.list.rules(userName: Self.ohm, clientIdentifier: Self.omega).maySubscribe("x") == false)
    }

    /// User `jose\u{301}` does not log in with the password of `jos\u{e9}`, nor the Ohm sign as Omega.
    @Test(arguments: [("jos\u{e9}", "jose\u{301}"), ("jose\u{301}", "jos\u{e9}"), (ohm, omega)])
    func passwordsAreLookedUpByBytes(names: (String, String)) async throws {
        let (user, impostor) = names
        let authenticator = PasswordFileAuthenticator(try PasswordFile(contents: ReloadTests.line(user, "secret")))
        try await TestBroker.with(authenticator: authenticator) { broker in
            let (_, refused) = try await PasswordAuthenticationTests.connAck(
                broker, version: .v5, userName: impostor, password: "secret", clientIdentifier: "impostor")
            #expect(refused.reasonCode == .badUserNameOrPassword)
            let (_, accepted) = try await PasswordAuthenticationTests.connAck(
                broker, version: .v5, userName: user, password: "secret", clientIdentifier: "user")
            #expect(accepted.reasonCode == .success)
            // Once the right user's password is remembered, the impostor is still refused.
            let (_, again) = try await PasswordAuthenticationTests.connAck(
                broker, version: .v5, userName: impostor, password: "secret", clientIdentifier: "impostor2")
            #expect(again.reasonCode == .badUserNameOrPassword)
        }
    }

    /// A password file may hold both spellings as two users; editing one leaves the other's line alone.
    @Test func aPasswordFileKeepsEquivalentUsersApart() throws {
        let contents = ReloadTests.line("jos\u{e9}", "one") + ReloadTests.line("jose\u{301}", "two")
        let file = try PasswordFile(contents: contents)
        #expect(file.users.count == 2)
        #expect(try #require(file.users[ExactString("jose\u{301}")]).verify(Array("two".utf8)))
        let (edited, found) = PasswordFile.editing(contents, user: "jose\u{301}", hash: nil)
        #expect(found)
        let remaining = try PasswordFile(contents: edited)
        #expect(remaining.users.keys.map(\.string.utf8.count) == ["jos\u{e9}".utf8.count])
    }
}
