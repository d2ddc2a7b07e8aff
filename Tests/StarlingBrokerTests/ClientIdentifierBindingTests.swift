import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Client identifiers bound to user names (`BrokerConfiguration.clientIdentifierBinding`), so that one user
/// cannot take over another's session by picking its identifier.
@Suite struct ClientIdentifierBindingTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    static func configure(_ binding: ClientIdentifierBinding) -> (inout BrokerConfiguration) -> Void {
        { $0.clientIdentifierBinding = binding }
    }

    static func connAck(_ broker: TestBroker, _ id: String, user: String?, version: ProtocolVersion = .v5) async throws -> (RawClient, ConnAckPacket) {
        let client = try await AuthenticationTests.connect(broker, id, version: version, userName: user)
        return (client, try await client.expectConnAck())
    }

    static func expectStillConnected(_ client: RawClient) async throws {
        try await client.send(.pingReq)
        #expect(try await client.nextPacket() == .pingResp)
    }

    /// Only the user name, or the user name, the separator and more, are accepted; bob picking alice's
    /// identifier gets 0x85 (3.1.1: 0x02) and alice keeps her connection and session.
    @Test(arguments: versions)
    func anIdentifierOfAnotherUserIsRefused(version: ProtocolVersion) async throws {
        try await TestBroker.with(Self.configure(.prefixedByUserName(separator: "-"))) { broker in
            let (alice, aliceAck) = try await Self.connAck(broker, "alice", user: "alice", version: version)
            #expect(aliceAck.reasonCode == .success)
            for id in ["alice", "alice-phone", "bobby", "bob-", "b"] {
                let (bob, connAck) = try await Self.connAck(broker, id, user: "bob", version: version)
                #expect(connAck.reasonCode == (version == .v5 ? .clientIdentifierNotValid : ConnectReturnCode.identifierRejected.reasonCode), "\(id)")
                try await bob.expectClosed()
            }
            for id in ["bob", "bob-phone"] {
                let (_, connAck) = try await Self.connAck(broker, id, user: "bob", version: version)
                #expect(connAck.reasonCode == .success, "\(id)")
            }
            try await Self.expectStillConnected(alice)
        }
    }

    /// The user name is compared byte for byte: a canonically equivalent spelling is another user's.
    @Test func theUserNameIsComparedAsBytes() async throws {
        try await TestBroker.with(Self.configure(.prefixedByUserName(separator: "-"))) { broker in
            let (_, connAck) = try await Self.connAck(broker, "jos\u{e9}-laptop", user: "jose\u{301}")
            #expect(connAck.reasonCode == .clientIdentifierNotValid)
        }
    }

    /// With the user name as the identifier, bob asking for alice's identifier gets his own session: alice
    /// stays connected, and bob's next connection, whatever identifier it names, takes over his.
    @Test(arguments: versions)
    func theUserNameBecomesTheIdentifier(version: ProtocolVersion) async throws {
        try await TestBroker.with(Self.configure(.userName)) { broker in
            let (alice, aliceAck) = try await Self.connAck(broker, "alice", user: "alice", version: version)
            #expect(aliceAck.reasonCode == .success)
            let (bob, bobAck) = try await Self.connAck(broker, "alice", user: "bob", version: version)
            #expect(bobAck.reasonCode == .success)
            try await Self.expectStillConnected(alice)
            let (_, againAck) = try await Self.connAck(broker, "anything", user: "bob", version: version)
            #expect(againAck.reasonCode == .success)
            if version == .v5 {
                #expect(try await bob.expectDisconnect().reasonCode == .sessionTakenOver)
            }
            try await bob.expectClosed()
            try await Self.expectStillConnected(alice)
        }
    }

    /// A 5.0 client that leaves the identifier to the broker is told it is its user name.
    @Test func anAssignedIdentifierIsTheUserName() async throws {
        try await TestBroker.with(Self.configure(.userName)) { broker in
            let (_, connAck) = try await Self.connAck(broker, "", user: "carol")
            #expect(connAck.reasonCode == .success)
            #expect(connAck.properties.assignedClientIdentifier == "carol")
        }
    }

    /// Without a user name the identifier cannot be checked: Not authorized, as Mosquitto does.
    @Test(arguments: [ClientIdentifierBinding.userName, .prefixedByUserName(separator: "-")])
    func clientsWithoutAUserNameAreRefused(binding: ClientIdentifierBinding) async throws {
        try await TestBroker.with(Self.configure(binding)) { broker in
            let (client, connAck) = try await Self.connAck(broker, "anonymous", user: nil)
            #expect(connAck.reasonCode == .notAuthorized)
            try await client.expectClosed()
        }
    }
}
