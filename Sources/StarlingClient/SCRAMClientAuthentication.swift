import NIOCore
import StarlingSCRAM

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// SCRAM-SHA-256 (RFC 5802, RFC 7677) over MQTT 5.0 enhanced authentication, as Starling's broker offers it
/// (`SCRAMAuthenticator`): the password never crosses the network, and the client checks that the broker knows
/// it before it counts the connection as made.
public struct SCRAMClientAuthentication: MQTTClientAuthentication {
    public let userName: String
    private let password: String

    public init(userName: String, password: String) {
        self.userName = userName
        self.password = password
    }

    /// "SCRAM-SHA-256", the Authentication Method it names.
    public static let method = SCRAMSHA256.method

    public var method: String { Self.method }

    public func makeExchange() -> any MQTTClientAuthenticationExchange {
        Exchange(userName: userName, password: password)
    }

    /// Why an exchange failed on this side.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    final class Exchange: MQTTClientAuthenticationExchange {
        private let userName: String
        private let password: String
        private let clientNonce: String
        private var authMessage: String?
        private var serverKey: [UInt8]?

        init(userName: String, password: String) {
            self.userName = userName
            self.password = password
            var generator = SystemRandomNumberGenerator()
            clientNonce = Data((0..<18).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
        }

        private var clientFirstBare: String { "n=\(SCRAMSHA256.encodedName(userName)),r=\(clientNonce)" }

        func initialData() throws -> ByteBuffer? {
            // gs2-header "n,,": no channel binding, no authorization identity.
            ByteBuffer(string: "n,," + clientFirstBare)
        }

        func respond(to challenge: ByteBuffer?) throws -> ByteBuffer? {
            guard authMessage == nil else { throw Failure(description: "the broker continued a finished SCRAM exchange") }
            let serverFirst = challenge.map { String(buffer: $0) } ?? ""
            let attributes = SCRAMSHA256.attributes(serverFirst)
            guard let nonce = attributes["r"], nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count,
                let salt = attributes["s"].flatMap({ Data(base64Encoded: $0) }), let iterations = attributes["i"].flatMap(Int.init),
                iterations > 0
            else {
                throw Failure(description: "malformed SCRAM server-first message from the broker")
            }
            let salted = SCRAMSHA256.saltedPassword(password, salt: Array(salt), iterations: iterations)
            let clientKey = SCRAMSHA256.hmac(salted, "Client Key")
            let withoutProof = "c=biws,r=\(nonce)"
            let authMessage = "\(clientFirstBare),\(serverFirst),\(withoutProof)"
            let signature = SCRAMSHA256.hmac(SCRAMSHA256.sha256(clientKey), authMessage)
            let proof = zip(clientKey, signature).map { $0 ^ $1 }
            self.authMessage = authMessage
            serverKey = SCRAMSHA256.hmac(salted, "Server Key")
            return ByteBuffer(string: "\(withoutProof),p=\(Data(proof).base64EncodedString())")
        }

        func complete(with data: ByteBuffer?) throws {
            guard let authMessage, let serverKey else {
                throw Failure(description: "the broker accepted the connection without a SCRAM exchange")
            }
            let expected = "v=" + Data(SCRAMSHA256.hmac(serverKey, authMessage)).base64EncodedString()
            guard let data, String(buffer: data) == expected else {
                throw Failure(description: "the broker's SCRAM signature does not prove that it knows the password")
            }
        }
    }
}
