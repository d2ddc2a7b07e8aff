import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Authentication by an embedder's `ConnectionAuthenticator`: plain credentials (3.1.4), enhanced authentication
/// (4.12), re-authentication (4.12.1) and server redirection (4.11).
@Suite struct AuthenticationTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]
    static let method = "SCRAM-TEST"

    /// An authenticator made of a closure, which records every request it is given.
    struct Authenticator: ConnectionAuthenticator {
        let requests = NIOLockedValueBox<[AuthenticationRequest]>([])
        let decide: @Sendable (AuthenticationRequest) async throws -> AuthenticationDecision

        func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision {
            requests.withLockedValue { $0.append(request) }
            return try await decide(request)
        }
    }

    /// What an authenticator whose user store fails would throw.
    struct BackendFailure: Error {}

    /// Lets in user "alice" with password "secret", and no one else.
    static var passwords: Authenticator {
        Authenticator { request in
            guard request.userName == "alice" else { throw BackendFailure() }
            return request.password == ByteBuffer(string: "secret") ? .accept() : .refuse(.badUserNameOrPassword)
        }
    }

    static func connect(
        _ broker: TestBroker, _ clientIdentifier: String, version: ProtocolVersion = .v5, userName: String? = nil,
        password: String? = nil, properties: Properties = []
    ) async throws -> RawClient {
        let client = try await broker.open(version: version)
        try await client.send(.connect(ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, userName: userName,
            password: password.map { ByteBuffer(string: $0) }, properties: properties)))
        return client
    }

    static func authProperties(_ data: String?, method: String = method) -> Properties {
        var properties: Properties = [.authenticationMethod(method)]
        if let data { properties.append(.authenticationData(ByteBuffer(string: data))) }
        return properties
    }

    static func expectAuth(_ client: RawClient) async throws -> AuthPacket {
        let packet = try await client.nextPacket()
        guard case .auth(let auth) = packet else { throw RawClient.Failure(description: "expected AUTH, got \(packet)") }
        return auth
    }

    // MARK: Plain credentials

    /// 3.1.4 step 3: the server may authenticate the client with its User Name and Password; the authenticator
    /// is told who is connecting, and a 5.0 client that named no method gets none back (MQTT-4.12.0-6).
    @Test(arguments: versions)
    func acceptedCredentialsConnect(version: ProtocolVersion) async throws {
        let authenticator = Self.passwords
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connect(broker, "alice-client", version: version, userName: "alice", password: "secret")
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .success)
            #expect(connAck.properties.authenticationMethod == nil)
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)

            let request = try #require(authenticator.requests.withLockedValue { $0.first })
            #expect(request.stage == .connect)
            #expect(request.step == 1)
            #expect(request.clientIdentifier == "alice-client")
            #expect(request.protocolVersion == version)
            #expect(request.remoteAddress?.ipAddress == "127.0.0.1")
            #expect(request.authenticationMethod == nil)
        }
    }

    /// 5.0 3.2.2.2 0x86 / 3.1.1 3.2.2.3 return code 0x04: a refused CONNECT gets Session Present 0
    /// (MQTT-3.2.2-6 / MQTT-3.2.2-4) and the connection closes (MQTT-3.2.2-7 / MQTT-3.2.2-5).
    @Test(arguments: versions)
    func refusedCredentialsAreAnsweredBadUserNameOrPassword(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.passwords) { broker in
            let client = try await Self.connect(broker, "mallory", version: version, userName: "alice", password: "guess")
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == (version == .v5 ? .badUserNameOrPassword : ConnectReturnCode.badUserNameOrPassword.reasonCode))
            #expect(connAck.sessionPresent == false)
            try await client.expectClosed()
        }
    }

    /// An authenticator that throws refuses the client with Not authorized (0x87 / 0x05) and the broker keeps
    /// serving the clients it lets in.
    @Test(arguments: versions)
    func throwingAuthenticatorRefusesOnlyThatClient(version: ProtocolVersion) async throws {
        try await TestBroker.with(authenticator: Self.passwords) { broker in
            let refused = try await Self.connect(broker, "stranger", version: version, userName: "bob", password: "x")
            let connAck = try await refused.expectConnAck()
            #expect(connAck.reasonCode == (version == .v5 ? .notAuthorized : ConnectReturnCode.notAuthorized.reasonCode))
            try await refused.expectClosed()

            let accepted = try await Self.connect(broker, "alice-client", version: version, userName: "alice", password: "secret")
            #expect(try await accepted.expectConnAck().reasonCode == .success)
            try await accepted.send(.pingReq)
            #expect(try await accepted.nextPacket() == .pingResp)
        }
    }

    /// An authenticator that never answers is given up on after the authentication timeout: Not authorized.
    @Test(arguments: versions)
    func silentAuthenticatorTimesOut(version: ProtocolVersion) async throws {
        let silent = Authenticator { _ in
            // Ends only when the broker cancels the call on timing out.
            try await Task.sleep(for: .seconds(60))
            return .accept()
        }
        try await TestBroker.with(authenticator: silent, {
            $0.limits.authenticationTimeout = .milliseconds(200)
        }) { broker in
            let client = try await Self.connect(broker, "patient", version: version, userName: "patient")
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == (version == .v5 ? .notAuthorized : ConnectReturnCode.notAuthorized.reasonCode))
            try await client.expectClosed()
        }
    }

    // MARK: Enhanced authentication

    /// A SCRAM-like exchange (4.12, its non-normative example): AUTH 0x18 from the server (MQTT-4.12.0-2), AUTH
    /// 0x18 back (MQTT-4.12.0-3), then CONNACK 0x00 with the method (MQTT-4.12.0-5) and the final data.
    @Test func twoStepExchangeEndsInConnAckWithAuthenticationData() async throws {
        let authenticator = Authenticator { request in
            guard request.authenticationMethod == Self.method else { return .refuse(.badAuthenticationMethod) }
            let data = request.authenticationData.map { String(buffer: $0) }
            switch (request.step, data) {
            case (1, "client-first"): return .continueAuthentication(data: ByteBuffer(string: "server-first"))
            case (2, "client-final"): return .accept(data: ByteBuffer(string: "server-final"))
            default: return .refuse(.notAuthorized)
            }
        }
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connect(broker, "scram", properties: Self.authProperties("client-first"))
            let challenge = try await Self.expectAuth(client)
            #expect(challenge.reasonCode == .continueAuthentication)
            #expect(challenge.properties.authenticationMethod == Self.method)
            #expect(challenge.properties.authenticationData == ByteBuffer(string: "server-first"))

            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.authProperties("client-final"))))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .success)
            #expect(connAck.properties.authenticationMethod == Self.method)
            #expect(connAck.properties.authenticationData == ByteBuffer(string: "server-final"))
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)

            let requests = authenticator.requests.withLockedValue { $0 }
            #expect(requests.map(\.step) == [1, 2])
            #expect(Set(requests.map(\.connectionNumber)).count == 1)
        }
    }

    /// MQTT-4.12.0-1: a method the authenticator does not support is answered 0x8C and the connection closes.
    @Test func unsupportedMethodIsRefused() async throws {
        let authenticator = Authenticator { request in
            request.authenticationMethod == Self.method ? .accept() : .refuse(.badAuthenticationMethod)
        }
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connect(broker, "kerberos", properties: Self.authProperties(nil, method: "GS2-KRB5"))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .badAuthenticationMethod)
            try await client.expectClosed()
        }
    }

    /// 3.1.2.11.10: Authentication Data in a CONNECT without an Authentication Method is a Protocol Error,
    /// refused 0x82 before any authenticator is asked, with or without one configured.
    @Test(arguments: [false, true])
    func authenticationDataWithoutAMethodIsAProtocolError(withAuthenticator: Bool) async throws {
        let authenticator = Self.passwords
        try await TestBroker.with(authenticator: withAuthenticator ? authenticator : nil) { broker in
            let client = try await Self.connect(
                broker, "stray-data", userName: "alice", password: "secret",
                properties: [.authenticationData(ByteBuffer(string: "client-first"))])
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .protocolError)
            try await client.expectClosed()
            #expect(authenticator.requests.withLockedValue { $0.isEmpty })
        }
    }

    /// MQTT-4.12.0-5: an AUTH naming another method than CONNECT's is a protocol error, refused in CONNACK.
    @Test func answerWithAnotherMethodIsRefused() async throws {
        let authenticator = Authenticator { _ in .continueAuthentication(data: nil) }
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connect(broker, "switcher", properties: Self.authProperties("client-first"))
            _ = try await Self.expectAuth(client)
            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.authProperties("x", method: "OTHER"))))
            #expect(try await client.expectConnAck().reasonCode == .protocolError)
            try await client.expectClosed()
            #expect(authenticator.requests.withLockedValue { $0.count } == 1)
        }
    }

    /// 4.11: a redirected 5.0 client gets 0x9C or 0x9D with a Server Reference; 3.1.1 has no redirection and
    /// is told 0x03 (Server unavailable).
    @Test(arguments: versions, [false, true])
    func redirectNamesAnotherServer(version: ProtocolVersion, permanently: Bool) async throws {
        let authenticator = Authenticator { _ in .redirect(serverReference: "other.example:1883", permanently: permanently) }
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connect(broker, "wanderer", version: version, userName: "wanderer")
            let connAck = try await client.expectConnAck()
            if version == .v5 {
                #expect(connAck.reasonCode == (permanently ? .serverMoved : .useAnotherServer))
                #expect(connAck.properties.serverReference == "other.example:1883")
            } else {
                #expect(connAck.reasonCode == ConnectReturnCode.serverUnavailable.reasonCode)
            }
            try await client.expectClosed()
        }
    }

    // MARK: Re-authentication

    /// Accepts CONNECT; in re-authentication asks for one more step and then accepts "response", or refuses or
    /// redirects on "refuse" / "redirect".
    static var reauthenticating: Authenticator {
        Authenticator { request in
            guard request.stage == .reauthentication else { return .accept() }
            switch request.authenticationData.map({ String(buffer: $0) }) {
            case "renew": return .continueAuthentication(data: ByteBuffer(string: "challenge"))
            case "response": return .accept(data: ByteBuffer(string: "renewed"))
            case "redirect": return .redirect(serverReference: "moved.example", permanently: true)
            default: return .refuse(.notAuthorized)
            }
        }
    }

    static func connectReauthenticating(_ broker: TestBroker, _ clientIdentifier: String) async throws -> RawClient {
        let client = try await Self.connect(broker, clientIdentifier, properties: Self.authProperties("initial"))
        let connAck = try await client.expectConnAck()
        guard connAck.reasonCode == .success else { throw RawClient.Failure(description: "refused: \(connAck)") }
        return client
    }

    /// MQTT-4.12.1-1: AUTH 0x19 with the CONNECT's method starts re-authentication; AUTH 0x18 goes both ways
    /// and the server ends it with AUTH 0x00, the connection carrying on.
    @Test func reauthenticationSucceeds() async throws {
        let authenticator = Self.reauthenticating
        try await TestBroker.with(authenticator: authenticator) { broker in
            let client = try await Self.connectReauthenticating(broker, "renewer")
            try await client.send(.auth(AuthPacket(reasonCode: .reAuthenticate, properties: Self.authProperties("renew"))))
            let challenge = try await Self.expectAuth(client)
            #expect(challenge.reasonCode == .continueAuthentication)
            #expect(challenge.properties.authenticationMethod == Self.method)
            #expect(challenge.properties.authenticationData == ByteBuffer(string: "challenge"))

            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.authProperties("response"))))
            let done = try await Self.expectAuth(client)
            #expect(done.reasonCode == .success)
            #expect(done.properties.authenticationMethod == Self.method)
            #expect(done.properties.authenticationData == ByteBuffer(string: "renewed"))
            try await client.send(.pingReq)
            #expect(try await client.nextPacket() == .pingResp)

            let requests = authenticator.requests.withLockedValue { $0 }
            #expect(requests.map(\.stage) == [.connect, .reauthentication, .reauthentication])
            #expect(requests.map(\.step) == [1, 1, 2])
            #expect(requests.last?.clientIdentifier == "renewer")
        }
    }

    /// MQTT-4.12.1-2: a failed re-authentication ends in DISCONNECT with the reason and a closed connection.
    @Test func failedReauthenticationDisconnects() async throws {
        try await TestBroker.with(authenticator: Self.reauthenticating) { broker in
            let client = try await Self.connectReauthenticating(broker, "expired")
            try await client.send(.auth(AuthPacket(reasonCode: .reAuthenticate, properties: Self.authProperties("stale"))))
            #expect(try await client.expectDisconnect().reasonCode == .notAuthorized)
            try await client.expectClosed()
        }
    }

    /// 4.11: re-authentication can move a connected client with DISCONNECT 0x9D and a Server Reference.
    @Test func reauthenticationRedirectsConnectedClient() async throws {
        try await TestBroker.with(authenticator: Self.reauthenticating) { broker in
            let client = try await Self.connectReauthenticating(broker, "mover")
            try await client.send(.auth(AuthPacket(reasonCode: .reAuthenticate, properties: Self.authProperties("redirect"))))
            let disconnect = try await client.expectDisconnect()
            #expect(disconnect.reasonCode == .serverMoved)
            #expect(disconnect.properties.serverReference == "moved.example")
            try await client.expectClosed()
        }
    }

    /// MQTT-4.12.1-1: re-authentication names the CONNECT's method; another one is a protocol error.
    @Test func reauthenticationWithAnotherMethodIsProtocolError() async throws {
        try await TestBroker.with(authenticator: Self.reauthenticating) { broker in
            let client = try await Self.connectReauthenticating(broker, "fickle")
            try await client.send(.auth(AuthPacket(reasonCode: .reAuthenticate, properties: Self.authProperties("renew", method: "OTHER"))))
            #expect(try await client.expectDisconnect().reasonCode == .protocolError)
            try await client.expectClosed()
        }
    }

    /// MQTT-4.12.0-7: a client that named no method in CONNECT sends no AUTH; one that does is disconnected.
    @Test func authWithoutMethodInConnectIsProtocolError() async throws {
        try await TestBroker.with(authenticator: Self.passwords) { broker in
            let client = try await Self.connect(broker, "plain", userName: "alice", password: "secret")
            #expect(try await client.expectConnAck().reasonCode == .success)
            try await client.send(.auth(AuthPacket(reasonCode: .reAuthenticate, properties: Self.authProperties("renew"))))
            #expect(try await client.expectDisconnect().reasonCode == .protocolError)
            try await client.expectClosed()
        }
    }
}
