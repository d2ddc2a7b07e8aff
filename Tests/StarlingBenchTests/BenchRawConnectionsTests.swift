import MQTT
import NIOCore
import StarlingBench
import StarlingTestSupport
import StarlingTesting
import Testing

/// `bench conn` over plain TCP opens its connections without SwiftNIO channels; what it reports must still be
/// the broker's view.
@Suite struct BenchRawConnectionsTests {
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func connectionsFromSeveralSourceAddressesAreHeldAndCounted(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            var options = BenchOptions()
            options.scenario = .conn
            options.port = broker.port
            options.version = version
            options.connections = 200
            options.sourceAddresses = 4
            options.connectConcurrency = 16
            options.duration = .milliseconds(200)
            options.timeout = .seconds(20)
            let result = try await BenchRunner.run(options)
            #expect(result.connections.connected == 200)
            #expect(result.connections.failed == 0)
            #expect(result.connections.cpuMicrosecondsPerConnection != nil)
            #expect(try await broker.broker.statistics().acceptedConnections >= 200)
        }
    }

    @Test func aBrokerThatIsNotThereFailsEveryConnection() async throws {
        let reserved = try ReservedPort()
        defer { reserved.release() }
        var options = BenchOptions()
        options.scenario = .conn
        options.port = reserved.port
        options.connections = 5
        options.timeout = .seconds(20)
        await #expect(throws: (any Error).self) { _ = try await BenchRunner.run(options) }
    }
}
