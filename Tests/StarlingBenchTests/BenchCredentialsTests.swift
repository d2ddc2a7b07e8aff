import MQTT
import NIOCore
import StarlingBench
import StarlingBroker
import StarlingTesting
import Testing

/// `starling bench -u/--pw` (or a URL's credentials): every connection gives them.
@Suite struct BenchCredentialsTests {
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func connectionsGiveTheUserNameAndPassword(version: ProtocolVersion) async throws {
        let users = PasswordFileAuthenticator(PasswordFile(users: [ExactString("bench"): PasswordHash(password: Array("secret".utf8), iterations: 1_000)]))
        try await TestBroker.with(authenticator: users) { broker in
            var options = BenchOptions()
            options.scenario = .conn
            options.port = broker.port
            options.version = version
            options.connections = 3
            options.duration = .milliseconds(100)
            options.timeout = .seconds(20)
            // Without them the broker refuses every connection, and the run says so.
            await #expect(throws: (any Error).self) { _ = try await BenchRunner.run(options) }
            options.userName = "bench"
            options.password = "secret"
            let accepted = try await BenchRunner.run(options)
            #expect(accepted.connections.connected == 3)
            #expect(accepted.connections.failed == 0)
        }
    }
}
