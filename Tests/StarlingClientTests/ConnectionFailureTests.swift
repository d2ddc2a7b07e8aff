import NIOCore
import StarlingClient
import StarlingTestSupport
import Testing

/// Connections that cannot be made, against mosquitto only: Starling's broker has no authentication to refuse
/// a client with yet.
@Suite(.enabled(if: MosquittoBroker.isInstalled, "needs mosquitto at /usr/sbin/mosquitto"), .timeLimit(.minutes(1)))
struct ConnectionFailureTests {
    @Test(arguments: [(ProtocolVersion.v3_1_1, UInt8(5)), (.v5, 0x87)])
    func refusalCarriesTheBrokersReasonCode(version: ProtocolVersion, code: UInt8) async throws {
        try await withMosquitto { broker in
            var configuration = try MQTTClientConfiguration(url: "mqtt://127.0.0.1:\(broker.authenticatedPort)")
            configuration.protocolVersion = version
            let error = await #expect(throws: MQTTClientError.self) {
                try await withMQTTClient(configuration: configuration) { _ in }
            }
            #expect(error?.code == .connectionRefused)
            #expect(error?.reasonCode?.rawValue == code)
            #expect(error?.description.lowercased().contains("not authori") == true)
        }
    }

    @Test func serviceGivesUpOnARefusalThatCannotChange() async throws {
        try await withMosquitto { broker in
            let client = MQTTClient(configuration: try MQTTClientConfiguration(url: "mqtt://127.0.0.1:\(broker.authenticatedPort)"))
            // Reconnection is on (the default), yet a refusal for want of credentials ends run() at once.
            let error = await #expect(throws: MQTTClientError.self) { try await client.run() }
            #expect(error?.code == .connectionRefused)
            let late = await #expect(throws: MQTTClientError.self) { try await client.publish(topic: "t", payload: "x") }
            #expect(late?.code == .connectionRefused)
        }
    }
}
