#if os(Linux)
import MQTT
import StarlingBench
import StarlingTesting
import Testing

/// `bench storm`: every client comes back to its session and gets the message published while it was away.
@Suite struct StormRunnerTests {
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func everyClientResumesItsSessionAndGetsItsMessage(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            var options = StormRunner.Options()
            options.port = broker.port
            options.clients = 200
            options.version = version
            options.window = 16
            options.settle = .milliseconds(100)
            let result = try await StormRunner.run(options)
            #expect(result.subscribed == 200)
            #expect(result.sessionsPresent == 200)
            #expect(result.received == 200)
            #expect(result.lost == 0 && result.failed == 0, "\(result.firstError ?? "")")
            #expect(try await broker.broker.statistics().sessions >= 200)
        }
    }

}
#endif
