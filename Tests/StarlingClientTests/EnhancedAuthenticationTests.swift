import Foundation
import NIOCore
import StarlingBroker
import StarlingClient
import StarlingTesting
import Testing

/// MQTT 5.0 enhanced authentication from the client's side: SCRAM-SHA-256 against Starling's broker.
@Suite(.timeLimit(.minutes(1)))
struct EnhancedAuthenticationTests {
    static func broker() -> SCRAMAuthenticator {
        SCRAMAuthenticator(users: ["alice": .init(password: "pencil", iterations: 4_096)])
    }

    static func configuration(port: Int, password: String) -> MQTTClientConfiguration {
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: port)
        configuration.authentication = SCRAMClientAuthentication(userName: "alice", password: password)
        configuration.reconnect = .disabled
        return configuration
    }

    @Test func theRightPasswordConnectsAndTheClientWorks() async throws {
        try await TestBroker.with(authenticator: Self.broker()) { broker in
            try await withMQTTClient(configuration: Self.configuration(port: broker.port, password: "pencil")) { client in
                let subscription = try await client.subscribe(to: "scram/t", qos: .atLeastOnce)
                try await client.publish(topic: "scram/t", payload: "proved", qos: .atLeastOnce)
                var messages = subscription.makeAsyncIterator()
                let message = try #require(try await messages.next())
                #expect(String(buffer: message.payload) == "proved")
                // The broker knows the client by its SCRAM user.
                let clients = await broker.broker.clients()
                #expect(clients.map(\.userName) == ["alice"])
            }
        }
    }

    @Test func aWrongPasswordIsRefused() async throws {
        try await TestBroker.with(authenticator: Self.broker()) { broker in
            let error = await #expect(throws: MQTTClientError.self) {
                try await withMQTTClient(configuration: Self.configuration(port: broker.port, password: "pen")) { _ in }
            }
            #expect(error?.code == .connectionRefused)
            #expect(error?.reasonCode == .badUserNameOrPassword)
        }
    }

    /// A broker that goes through the motions without knowing the password cannot prove itself: the client ends
    /// the connection before using it.
    @Test func aBrokerThatCannotProveItKnowsThePasswordIsLeft() async throws {
        try await TestBroker.with(authenticator: Impostor()) { broker in
            let error = await #expect(throws: MQTTClientError.self) {
                try await withMQTTClient(configuration: Self.configuration(port: broker.port, password: "pencil")) { client in
                    try await client.publish(topic: "leak", payload: "secret", qos: .atLeastOnce)
                }
            }
            #expect(error?.description.contains("does not prove") == true, "\(String(describing: error))")
        }
    }

    /// Answers like a SCRAM server, with a made-up salt and a made-up signature.
    struct Impostor: ConnectionAuthenticator {
        func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision {
            let data = request.authenticationData.map { String(buffer: $0) } ?? ""
            if request.step == 1 {
                let nonce = data.split(separator: ",").first { $0.hasPrefix("r=") }.map { String($0.dropFirst(2)) } ?? ""
                return .continueAuthentication(data: ByteBuffer(string: "r=\(nonce)server,s=c2FsdA==,i=4096"))
            }
            return .accept(data: ByteBuffer(string: "v=bm90IGEgc2lnbmF0dXJl"))
        }
    }
}
