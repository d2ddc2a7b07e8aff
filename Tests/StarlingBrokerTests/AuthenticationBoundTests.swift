import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The bound on authenticator decisions under way (`Limits.maximumAuthentications`, per address and in all):
/// beyond it a CONNECT is refused at once rather than queued behind slow password checks.
@Suite struct AuthenticationBoundTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    static func login(_ broker: TestBroker, _ id: String, password: String, version: ProtocolVersion = .v5) async throws -> RawClient {
        try await AuthenticationTests.connect(broker, id, version: version, userName: "alice", password: password)
    }

    static func rateExceeded(_ version: ProtocolVersion) -> ReasonCode {
        version == .v5 ? .connectionRateExceeded : ConnectReturnCode.serverUnavailable.reasonCode
    }

    /// With the address's decisions all held by a slow authenticator, the next CONNECT from it is refused
    /// 0x9F (3.1.1: 0x03) without being decided; once they finish, logins go through again.
    @Test(arguments: versions)
    func loginsBeyondTheBoundPerAddressAreRefusedAtOnce(version: ProtocolVersion) async throws {
        let authenticator = HeldAuthenticator()
        try await TestBroker.with(authenticator: authenticator, {
            // Decisions are held while the test goes on: they must not time out meanwhile.
            $0.limits.authenticationTimeout = .seconds(120)
            $0.limits.maximumAuthenticationsPerAddress = 2
            $0.limits.maximumAuthentications = nil
        }) { broker in
            let first = try await Self.login(broker, "one", password: "secret", version: version)
            let second = try await Self.login(broker, "two", password: "wrong", version: version)
            await authenticator.waitUntilHeld(2)
            let third = try await Self.login(broker, "three", password: "secret", version: version)
            #expect(try await third.expectConnAck().reasonCode == Self.rateExceeded(version))
            try await third.expectClosed()
            #expect(authenticator.heldCount == 2)

            authenticator.release()
            #expect(try await first.expectConnAck().reasonCode == .success)
            #expect(try await second.expectConnAck().reasonCode != .success)
            try await second.expectClosed()
            // The slots are free again (the broker frees them before it answers).
            let fourth = try await Self.login(broker, "four", password: "secret", version: version)
            #expect(try await fourth.expectConnAck().reasonCode == .success)
        }
    }

    /// The bound in all holds whichever address the logins come from.
    @Test func loginsBeyondTheTotalBoundAreRefusedAtOnce() async throws {
        let authenticator = HeldAuthenticator()
        try await TestBroker.with(authenticator: authenticator, {
            // Decisions are held while the test goes on: they must not time out meanwhile.
            $0.limits.authenticationTimeout = .seconds(120)
            $0.limits.maximumAuthenticationsPerAddress = nil
            $0.limits.maximumAuthentications = 3
        }) { broker in
            var held: [RawClient] = []
            for index in 0..<3 { held.append(try await Self.login(broker, "held\(index)", password: "secret")) }
            await authenticator.waitUntilHeld(3)
            let refused = try await Self.login(broker, "refused", password: "secret")
            let connAck = try await refused.expectConnAck()
            #expect(connAck.reasonCode == .connectionRateExceeded)
            #expect(connAck.properties.reasonString == "too many logins under way")
            authenticator.release()
            for client in held { #expect(try await client.expectConnAck().reasonCode == .success) }
        }
    }

    /// A CONNECT refused for load is not a failed guess: it does not use up the address's failed logins.
    @Test func aRefusalForLoadIsNotAFailedLogin() async throws {
        let authenticator = HeldAuthenticator()
        try await TestBroker.with(authenticator: authenticator, {
            // Decisions are held while the test goes on: they must not time out meanwhile.
            $0.limits.authenticationTimeout = .seconds(120)
            $0.limits.maximumAuthenticationsPerAddress = 1
            $0.limits.failedLoginsPerAddress = RateLimit(perSecond: 0.001, burst: 2)
        }) { broker in
            let guess = try await Self.login(broker, "guess", password: "wrong")
            await authenticator.waitUntilHeld(1)
            for index in 0..<3 {
                let refused = try await Self.login(broker, "busy\(index)", password: "wrong")
                #expect(try await refused.expectConnAck().reasonCode == .connectionRateExceeded)
            }
            authenticator.release()
            #expect(try await guess.expectConnAck().reasonCode == .badUserNameOrPassword)
            // One failed login of two is used: the right password still gets in.
            let right = try await Self.login(broker, "right", password: "secret")
            #expect(try await right.expectConnAck().reasonCode == .success)
        }
    }
}
