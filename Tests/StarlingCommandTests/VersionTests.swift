import StarlingBroker
import Testing

/// Starling's version is defined once, as `MQTTBroker.version`: `starling --version` prints it, and
/// `$SYS/broker/version` gives it (see `SystemTopicsTests`).
@Suite(.timeLimit(.minutes(1)))
struct VersionTests {
    @Test func theCommandPrintsTheBrokersVersion() async throws {
        for arguments in [["--version"], ["serve", "--version"]] {
            let printed = try await CommandLineTests.run(arguments)
            #expect(printed.status == 0, "\(printed.errors)")
            #expect(printed.output == "\(MQTTBroker.version)\n")
        }
    }
}
