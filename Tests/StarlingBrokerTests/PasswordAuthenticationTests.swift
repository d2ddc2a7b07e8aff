import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The password file authenticator in a running broker, per protocol version, with the exact CONNACK codes.
@Suite struct PasswordAuthenticationTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    static func users(_ entries: [ExactString: String]) -> PasswordFile {
        PasswordFile(users: entries.mapValues { PasswordHash(password: Array($0.utf8), iterations: 1_000) })
    }

    static let authenticator = PasswordFileAuthenticator(users(["alice": "secret", "bob": "hunter2"]))

    static func connAck(
        _ broker: TestBroker, version: ProtocolVersion, userName: String?, password: String?, clientIdentifier: String = "c"
    ) async throws -> (RawClient, ConnAckPacket) {
        let client = try await AuthenticationTests.connect(
            broker, clientIdentifier, version: version, userName: userName, password: password)
        return (client, try await client.expectConnAck())
    }

    @Test(arguments: versions)
    func theRightPasswordGetsIn(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.authenticator) { broker in
            let (client, connAck) = try await Self.connAck(broker, version: version, userName: "alice", password: "secret")
            #expect(connAck.reasonCode == .success)
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)
        }
    }

    /// A wrong password and an unknown user get the same answer: 0x86 Bad User Name or Password for 5.0
    /// (3.2.2.2), 0x05 Not authorized for 3.1.1 (3.2.2.3), then the connection closes (MQTT-3.2.2-5/-7).
    @Test(arguments: versions, [("alice", "Secret"), ("alice", ""), ("mallory", "secret"), ("alice", nil)])
    func wrongCredentialsAreRefused(version: ProtocolVersion, credentials: (String, String?)) async throws {
        try await TestBroker.with(authenticator: Self.authenticator) { broker in
            let (client, connAck) = try await Self.connAck(broker, version: version, userName: credentials.0, password: credentials.1)
            #expect(connAck.reasonCode == (version == .v5 ? .badUserNameOrPassword : ConnectReturnCode.notAuthorized.reasonCode))
            #expect(connAck.sessionPresent == false)
            try await client.expectClosed()
        }
    }

    /// Secure by default: with passwords configured, a client without a user name gets 0x87 / 0x05.
    @Test(arguments: versions)
    func anonymousClientsAreRefusedOncePasswordsAreConfigured(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.authenticator) { broker in
            let (client, connAck) = try await Self.connAck(broker, version: version, userName: nil, password: nil)
            #expect(connAck.reasonCode == (version == .v5 ? .notAuthorized : ConnectReturnCode.notAuthorized.reasonCode))
            try await client.expectClosed()
        }
    }

    @Test(arguments: versions)
    func allowAnonymousLetsThemInAndStillChecksPasswords(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.authenticator, {
            $0.allowAnonymous = true
        }) { broker in
            let (_, anonymous) = try await Self.connAck(broker, version: version, userName: nil, password: nil, clientIdentifier: "a")
            #expect(anonymous.reasonCode == .success)
            let (_, wrong) = try await Self.connAck(broker, version: version, userName: "bob", password: "x", clientIdentifier: "b")
            #expect(wrong.reasonCode != .success)
        }
    }

    @Test func withoutAuthenticatorAnonymousClientsGetIn() async throws {
        try await TestBroker.with { broker in
            let (_, connAck) = try await Self.connAck(broker, version: .v5, userName: nil, password: nil)
            #expect(connAck.reasonCode == .success)
        }
    }

    /// After the burst of failed logins an address is refused 0x9F Connection rate exceeded (3.1.1: 0x03)
    /// without its password being checked, even a right one.
    @Test(arguments: versions)
    func failedLoginsAreRateLimitedPerAddress(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.authenticator, {
            $0.limits.failedLoginsPerAddress = RateLimit(perSecond: 0.001, burst: 2)
        }) { broker in
            for attempt in 0..<2 {
                let (_, connAck) = try await Self.connAck(broker, version: version, userName: "alice", password: "guess\(attempt)")
                #expect(connAck.reasonCode == (version == .v5 ? .badUserNameOrPassword : ConnectReturnCode.notAuthorized.reasonCode))
            }
            let (client, connAck) = try await Self.connAck(broker, version: version, userName: "alice", password: "secret")
            #expect(connAck.reasonCode == (version == .v5 ? .connectionRateExceeded : ConnectReturnCode.serverUnavailable.reasonCode))
            try await client.expectClosed()
        }
    }

    /// Every attempt counts from the moment it starts: with the burst of guesses under way at once (none of
    /// them decided yet), the next CONNECT from the address, even with the right password, is refused 0x9F
    /// without reaching the authenticator; the guesses are then refused as usual.
    @Test func concurrentGuessesCannotExceedTheFailedLoginBurst() async throws {
        let authenticator = HeldAuthenticator(passThrough: ["secret"])
        let burst = 5
        try await TestBroker.with(authenticator: authenticator, {
            $0.limits.failedLoginsPerAddress = RateLimit(perSecond: 0.001, burst: Double(burst))
            // Only the failed-login limit is under test here.
            $0.limits.maximumAuthenticationsPerAddress = nil
            $0.limits.maximumAuthentications = nil
            // The guesses are held while the test goes on: their decisions must not time out meanwhile.
            $0.limits.authenticationTimeout = .seconds(120)
        }) { broker in
            var guesses: [RawClient] = []
            for attempt in 0..<burst {
                guesses.append(try await AuthenticationTests.connect(
                    broker, "guess\(attempt)", userName: "alice", password: "guess\(attempt)"))
            }
            await authenticator.waitUntilHeld(burst)
            let (right, connAck) = try await Self.connAck(broker, version: .v5, userName: "alice", password: "secret", clientIdentifier: "right")
            #expect(connAck.reasonCode == .connectionRateExceeded)
            try await right.expectClosed()
            authenticator.release()
            for guess in guesses {
                #expect(try await guess.expectConnAck().reasonCode == .badUserNameOrPassword)
            }
            #expect(authenticator.heldCount == burst)
        }
    }

    /// A login that succeeds gives back the attempt it took: a user who logs in many times is never limited.
    @Test func successfulLoginsDoNotUseUpTheBurst() async throws {
        try await TestBroker.with(authenticator: Self.authenticator, {
            $0.limits.failedLoginsPerAddress = RateLimit(perSecond: 0.001, burst: 2)
        }) { broker in
            for attempt in 0..<4 {
                let (_, connAck) = try await Self.connAck(broker, version: .v5, userName: "alice", password: "secret", clientIdentifier: "c\(attempt)")
                #expect(connAck.reasonCode == .success)
            }
        }
    }

    /// A client that connected stays connected when the file is replaced; new logins use the new file.
    @Test func updatedUsersApplyToNewLoginsWithoutDroppingConnections() async throws {
        let authenticator = PasswordFileAuthenticator(Self.users(["alice": "secret"]))
        try await TestBroker.with(authenticator: authenticator) { broker in
            let (alice, connAck) = try await Self.connAck(broker, version: .v5, userName: "alice", password: "secret", clientIdentifier: "alice")
            #expect(connAck.reasonCode == .success)
            authenticator.update(Self.users(["alice": "changed"]))
            let (_, old) = try await Self.connAck(broker, version: .v5, userName: "alice", password: "secret", clientIdentifier: "again")
            #expect(old.reasonCode == .badUserNameOrPassword)
            let (_, new) = try await Self.connAck(broker, version: .v5, userName: "alice", password: "changed", clientIdentifier: "new")
            #expect(new.reasonCode == .success)
            try await alice.send(.pingReq)
            #expect(try await alice.nextPacket() == .pingResp)
        }
    }
}

extension PasswordAuthenticationTests {
    /// A password that passed once is remembered, but only for the hash it passed against: a changed password
    /// and a wrong one are still refused, and a right one keeps working.
    @Test func rememberedLoginsFollowTheFile() async throws {
        let authenticator = PasswordFileAuthenticator(Self.users(["alice": "secret"]))
        func decide(_ password: String) async throws -> AuthenticationDecision {
            try await authenticator.authenticate(AuthenticationRequest(
                clientIdentifier: "c", userName: "alice", password: ByteBuffer(string: password), protocolVersion: .v5))
        }
        func accepted(_ decision: AuthenticationDecision) -> Bool {
            if case .accept = decision { return true }
            return false
        }
        #expect(accepted(try await decide("secret")))
        #expect(accepted(try await decide("secret")))
        #expect(!accepted(try await decide("Secret")))
        authenticator.update(Self.users(["alice": "changed"]))
        #expect(!accepted(try await decide("secret")))
        #expect(accepted(try await decide("changed")))
        authenticator.update(PasswordFile())
        #expect(!accepted(try await decide("changed")))
    }
}

extension PasswordAuthenticationTests {
    /// A verified client certificate says who the client is: without a user name it is not anonymous, and the
    /// authenticator decides about it.
    @Test func aClientCertificateIsNotAnonymous() async throws {
        let authenticator = AuthenticationTests.Authenticator { request in
            request.clientCertificate?.commonName == "alice" ? .accept() : .refuse(.notAuthorized)
        }
        try await TLSListenerTests.withTLSBroker(requireClientCertificate: true, authenticator: authenticator) { broker, certificates in
            let transport = try RawTransport.tls(try certificates.clientConfiguration(
                certificate: certificates.clientCertificate, key: certificates.clientKey))
            let client = try await RawClient.open(port: broker.port, version: .v5, transport: transport)
            #expect(try await TLSListenerTests.connect(client, "alice-device").reasonCode == .success)
            #expect(authenticator.requests.withLockedValue { $0.count } == 1)
        }
    }
}
