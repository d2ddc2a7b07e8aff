import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StarlingBroker
import StarlingTesting
import Testing

/// The broker lets anonymous clients in when nothing says otherwise, but says so when that reaches beyond loopback.
@Suite struct SecureDefaultsTests {
    /// Keeps the messages logged at warning and above.
    struct RecordingLogHandler: LogHandler {
        let messages: NIOLockedValueBox<[String]>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            messages.withLockedValue { $0.append("\(event.message)") }
        }
    }

    /// Starts a broker with `listeners` and returns its warnings.
    static func warnings(listeners: [BrokerConfiguration.Listener], authenticated: Bool = false) async throws -> [String] {
        let messages = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "starling-test") { _ in RecordingLogHandler(messages: messages) }
        let broker = try await TestBroker(
            configuration: BrokerConfiguration(listeners: listeners),
            authenticator: authenticated ? AuthenticationTests.Authenticator { _ in .accept() } : nil, loops: 1, logger: logger)
        await broker.shutdown()
        return messages.withLockedValue { $0 }
    }

    static let warning = "listening beyond this machine without authentication: any client may connect"

    @Test func anonymousListenerOnEveryAddressIsWarnedAbout() async throws {
        let warnings = try await Self.warnings(listeners: [.init(host: "0.0.0.0", port: 0)])
        #expect(warnings == [Self.warning])
    }

    @Test func loopbackListenersAreNot() async throws {
        let warnings = try await Self.warnings(listeners: [.init(host: "127.0.0.1", port: 0), .init(host: "127.0.0.2", port: 0)])
        #expect(warnings.isEmpty)
    }

    @Test func authenticatedListenersAreNot() async throws {
        let warnings = try await Self.warnings(listeners: [.init(host: "0.0.0.0", port: 0)], authenticated: true)
        #expect(warnings.isEmpty)
    }
}
