import Configuration
@testable import StarlingConfiguration
import Testing

/// Setting kinds that no key of the broker uses yet, checked on their own.
@Suite struct SettingTests {
    struct Probe {
        var rate: Double?
    }

    static func apply(_ setting: Setting<Probe>, environment: [String: String]) throws -> Probe {
        let source = ConfigurationSource(
            kind: .environment, snapshot: EnvironmentVariablesProvider(environmentVariables: environment).snapshot())
        var probe = Probe()
        try setting.apply(ConfigurationValues(sources: [source]), setting.key, &probe)
        return probe
    }

    @Test func doubleTakesFractionsAndIntegersWithinItsRange() throws {
        let setting = Setting<Probe>.double("max_rate", \.rate, in: 0...1_000)
        #expect(try Self.apply(setting, environment: ["MAX_RATE": "2.5"]).rate == 2.5)
        #expect(try Self.apply(setting, environment: ["MAX_RATE": "7"]).rate == 7)
        #expect(try Self.apply(setting, environment: [:]).rate == nil)
        #expect(throws: ConfigurationError.self) { try Self.apply(setting, environment: ["MAX_RATE": "1e9"]) }
        #expect(throws: ConfigurationError.self) { try Self.apply(setting, environment: ["MAX_RATE": "fast"]) }
    }
}
