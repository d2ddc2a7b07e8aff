import Crypto
import Foundation
import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing
import _CryptoExtras

/// SCRAM-SHA-256 over MQTT 5.0 enhanced authentication (4.12), with the client side done here from RFC 5802.
@Suite struct SCRAMAuthenticationTests {
    /// One per broker: exchanges are told apart by connection number, which counts per broker.
    static var authenticator: SCRAMAuthenticator { SCRAMAuthenticator(users: ["alice": .init(password: "pencil", iterations: 4_096)]) }

    /// The client side of one exchange.
    struct Client {
        let user: String
        let password: String
        let nonce = Data((0..<18).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()

        var clientFirstBare: String { "n=\(user),r=\(nonce)" }
        var clientFirst: String { "n,," + clientFirstBare }

        /// The client-final message and the server signature to expect, from the server-first message.
        func final(serverFirst: String) throws -> (message: String, serverSignature: String) {
            var fields: [String: String] = [:]
            for field in serverFirst.split(separator: ",") {
                let parts = field.split(separator: "=", maxSplits: 1)
                fields[String(parts[0])] = String(parts[1])
            }
            let combined = try #require(fields["r"])
            #expect(combined.hasPrefix(nonce))
            let encodedSalt = try #require(fields["s"])
            let salt = try #require(Data(base64Encoded: encodedSalt))
            let encodedIterations = try #require(fields["i"])
            let iterations = try #require(Int(encodedIterations))
            let salted = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
            let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted))
            let storedKey = SymmetricKey(data: SHA256.hash(data: clientKey))
            let serverKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted))
            let withoutProof = "c=biws,r=\(combined)"
            let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
            let signature = Data(HMAC<SHA256>.authenticationCode(for: authMessage, using: storedKey))
            let proof = Data(zip(clientKey, signature).map { $0 ^ $1 })
            let serverSignature = Data(HMAC<SHA256>.authenticationCode(for: authMessage, using: serverKey))
            return ("\(withoutProof),p=\(proof.base64EncodedString())", "v=\(serverSignature.base64EncodedString())")
        }
    }

    static func properties(_ data: String) -> Properties {
        [.authenticationMethod(SCRAMAuthenticator.method), .authenticationData(ByteBuffer(string: data))]
    }

    @Test func theRightPasswordCompletesTheExchangeAndTheClientVerifiesTheServer() async throws {
        try await TestBroker.with(authenticator: Self.authenticator) { broker in
            let scram = Client(user: "alice", password: "pencil")
            let client = try await broker.open()
            try await client.send(.connect(ConnectPacket(
                protocolVersion: .v5, clientIdentifier: "scram", properties: Self.properties(scram.clientFirst))))
            let challenge = try await AuthenticationTests.expectAuth(client)
            #expect(challenge.reasonCode == .continueAuthentication)
            let serverFirst = String(buffer: try #require(challenge.properties.authenticationData))
            let (final, expectedSignature) = try scram.final(serverFirst: serverFirst)
            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.properties(final))))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .success, Comment(rawValue: connAck.properties.reasonString ?? "no reason string"))
            #expect(connAck.properties.authenticationMethod == SCRAMAuthenticator.method)
            #expect(connAck.properties.authenticationData.map { String(buffer: $0) } == expectedSignature)
        }
    }

    /// The SCRAM user, not the CONNECT's (empty) User Name, is who the ACL sees.
    @Test func theACLSeesTheAuthenticatedUser() async throws {
        let acl = AccessControl(try AccessControlList(contents: "user alice\ntopic readwrite alice/#"))
        try await TestBroker.with(authenticator: Self.authenticator, accessControl: acl) { broker in
            let scram = Client(user: "alice", password: "pencil")
            let client = try await broker.open()
            try await client.send(.connect(ConnectPacket(
                protocolVersion: .v5, clientIdentifier: "scram", properties: Self.properties(scram.clientFirst))))
            let challenge = try await AuthenticationTests.expectAuth(client)
            let (final, _) = try scram.final(serverFirst: String(buffer: try #require(challenge.properties.authenticationData)))
            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.properties(final))))
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(try await client.subscribe([("alice/#", SubscriptionOptions()), ("bob/#", SubscriptionOptions())]) == [.grantedQoS0, .notAuthorized])
        }
    }

    @Test(arguments: [("alice", "wrong"), ("nobody", "pencil")])
    func aWrongPasswordOrUnknownUserIsRefused(user: String, password: String) async throws {
        try await TestBroker.with(authenticator: Self.authenticator) { broker in
            let scram = Client(user: user, password: password)
            let client = try await broker.open()
            try await client.send(.connect(ConnectPacket(
                protocolVersion: .v5, clientIdentifier: "scram", properties: Self.properties(scram.clientFirst))))
            let challenge = try await AuthenticationTests.expectAuth(client)
            let serverFirst = String(buffer: try #require(challenge.properties.authenticationData))
            let (final, _) = try scram.final(serverFirst: serverFirst)
            try await client.send(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: Self.properties(final))))
            #expect(try await client.expectConnAck().reasonCode == .badUserNameOrPassword)
            try await client.expectClosed()
        }
    }
}
