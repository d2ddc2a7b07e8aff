import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingSCRAM

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// MQTT 5.0 enhanced authentication (4.12) with SCRAM-SHA-256 (RFC 5802, RFC 7677), as Authentication Method
/// `SCRAM-SHA-256`: the password never crosses the network, and the client learns that the server knows it.
///
/// CONNECT carries the client-first message, AUTH 0x18 from the broker the server-first message, AUTH 0x18 from
/// the client the client-final message, and CONNACK the server-final message; the SCRAM user is the client's
/// user name for the ACL and the hooks. Re-authentication (AUTH 0x19)
/// runs the same exchange. Use one instance per broker: exchanges are told apart by `connectionNumber`, which
/// counts per broker. Clients without the method are refused Bad authentication method (0x8C); combine
/// it with another authenticator for those.
public final class SCRAMAuthenticator: ConnectionAuthenticator {
    /// The Authentication Method a client names in CONNECT to use this authenticator.
    public static let method = SCRAMSHA256.method

    /// What the server stores for a user: never the password.
    public struct Credentials: Sendable, Hashable {
        /// The salt the client derives its salted password with; 16 random bytes when derived here.
        public var salt: [UInt8]
        /// PBKDF2-HMAC-SHA-256 rounds the client spends on the salted password; 4,096 by default, the least
        /// RFC 7677 recommends.
        public var iterations: Int
        /// SHA-256 of the Client Key (RFC 5802): checks the client's proof.
        public var storedKey: [UInt8]
        /// HMAC of "Server Key" under the salted password (RFC 5802): signs the server-final message.
        public var serverKey: [UInt8]

        /// Derives the credentials of `password` with a fresh salt; slow on purpose.
        public init(password: String, iterations: Int = 4_096) {
            var generator = SystemRandomNumberGenerator()
            let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            self.init(password: password, salt: salt, iterations: iterations)
        }

        /// Derives the credentials of `password` with a given salt, to reproduce credentials stored elsewhere;
        /// slow on purpose.
        public init(password: String, salt: [UInt8], iterations: Int) {
            let salted = SCRAMSHA256.saltedPassword(password, salt: salt, iterations: iterations)
            let clientKey = SCRAMSHA256.hmac(salted, "Client Key")
            self.salt = salt
            self.iterations = iterations
            self.storedKey = SCRAMSHA256.sha256(clientKey)
            self.serverKey = SCRAMSHA256.hmac(salted, "Server Key")
        }
    }

    private struct Exchange {
        var userName: String
        var credentials: Credentials
        var clientFirstBare: String
        var serverFirst: String
        var nonce: String
        var started: NIODeadline
    }

    /// By the bytes of the user name: a canonically equivalent name is another user.
    private let users: NIOLockedValueBox<[ExactString: Credentials]>
    /// Exchanges waiting for the client's final message, by connection.
    private let exchanges = NIOLockedValueBox<[UInt64: Exchange]>([:])
    /// How long an exchange is remembered; a client that never answers is forgotten after it.
    static let exchangeLifetime = TimeAmount.seconds(60)

    /// Lets in `users` by their credentials, keyed by the bytes of the user name.
    public init(users: [ExactString: Credentials]) {
        self.users = NIOLockedValueBox(users)
    }

    /// Replaces the users; an exchange under way keeps the credentials it started with, and fails if its user
    /// was removed.
    public func setUsers(_ users: [ExactString: Credentials]) {
        self.users.withLockedValue { $0 = users }
    }

    /// Answers step 1 (the client-first message) with the server-first message, and the client-final message with
    /// acceptance and the server-final message, or Bad User Name or Password (0x86) when the proof does not match.
    /// Another Authentication Method, or none, is refused Bad authentication method (0x8C).
    public func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision {
        guard request.authenticationMethod == Self.method else {
            return .refuse(.badAuthenticationMethod, reasonString: "only \(Self.method) is supported")
        }
        let data = request.authenticationData.map { String(buffer: $0) } ?? ""
        if request.step == 1 {
            return start(request.connectionNumber, clientFirst: data)
        }
        let exchange = exchanges.withLockedValue { $0.removeValue(forKey: request.connectionNumber) }
        guard let exchange else { return .refuse(.notAuthorized, reasonString: "no SCRAM exchange under way") }
        return finish(exchange, clientFinal: data)
    }

    private func start(_ connection: UInt64, clientFirst: String) -> AuthenticationDecision {
        // gs2-header: no channel binding, no authorization identity.
        guard clientFirst.hasPrefix("n,,") else { return .refuse(.notAuthorized, reasonString: "unsupported SCRAM GS2 header") }
        let bare = String(clientFirst.dropFirst(3))
        let attributes = SCRAMSHA256.attributes(bare)
        guard let encodedName = attributes["n"], let clientNonce = attributes["r"], !clientNonce.isEmpty else {
            return .refuse(.notAuthorized, reasonString: "malformed SCRAM client-first message")
        }
        let userName = SCRAMSHA256.decodedName(encodedName)
        // An unknown user goes through the exchange with made-up credentials, so the answer does not tell
        // which users exist; the proof cannot match them.
        let credentials = users.withLockedValue { $0[ExactString(userName)] } ?? Self.decoy
        var generator = SystemRandomNumberGenerator()
        let serverNonce = Data((0..<18).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
        let nonce = clientNonce + serverNonce
        let serverFirst = "r=\(nonce),s=\(Data(credentials.salt).base64EncodedString()),i=\(credentials.iterations)"
        let now = NIODeadline.now()
        exchanges.withLockedValue { exchanges in
            exchanges = exchanges.filter { now - $0.value.started < Self.exchangeLifetime }
            exchanges[connection] = Exchange(
                userName: userName, credentials: credentials, clientFirstBare: bare, serverFirst: serverFirst, nonce: nonce,
                started: now)
        }
        return .continueAuthentication(data: ByteBuffer(string: serverFirst))
    }

    private func finish(_ exchange: Exchange, clientFinal: String) -> AuthenticationDecision {
        guard let proofStart = clientFinal.firstRange(of: ",p=") else {
            return .refuse(.notAuthorized, reasonString: "malformed SCRAM client-final message")
        }
        let withoutProof = String(clientFinal[..<proofStart.lowerBound])
        let attributes = SCRAMSHA256.attributes(withoutProof)
        guard attributes["c"] == "biws", attributes["r"] == exchange.nonce,
            let proof = Data(base64Encoded: String(clientFinal[proofStart.upperBound...])), proof.count == 32
        else {
            return .refuse(.notAuthorized, reasonString: "malformed SCRAM client-final message")
        }
        let authMessage = "\(exchange.clientFirstBare),\(exchange.serverFirst),\(withoutProof)"
        let signature = SCRAMSHA256.hmac(exchange.credentials.storedKey, authMessage)
        let clientKey = zip(proof, signature).map { $0 ^ $1 }
        let candidate = SCRAMSHA256.sha256(clientKey)
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, exchange.credentials.storedKey) { difference |= a ^ b }
        guard difference == 0, users.withLockedValue({ $0[ExactString(exchange.userName)] }) != nil else {
            return .refuse(.badUserNameOrPassword, reasonString: "SCRAM proof does not match")
        }
        let serverSignature = SCRAMSHA256.hmac(exchange.credentials.serverKey, authMessage)
        return .accept(data: ByteBuffer(string: "v=\(Data(serverSignature).base64EncodedString())"), userName: exchange.userName)
    }

    private static let decoy = Credentials(password: "", salt: Array(repeating: 0, count: 16), iterations: 4_096)
}
