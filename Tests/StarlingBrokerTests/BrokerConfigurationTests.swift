import NIOSSL
import StarlingBroker
import Testing

/// `BrokerConfiguration` is a value: equal settings compare and hash equal, whatever the listeners' transports.
@Suite struct BrokerConfigurationTests {
    @Test func equalSettingsAreEqual() {
        var first = BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: 1883), .init(port: 8080, transport: .webSocket(path: "/mqtt"))])
        var second = first
        #expect(first == second)
        #expect(Set([first, second]).count == 1)

        second.limits.maximumInflight += 1
        #expect(first != second)
        second = first
        second.listeners[1].transport = .webSocket(path: "/other")
        #expect(first != second)
        first.allowAnonymous = true
        second = first
        #expect(first == second)
    }

    /// TLS settings compare field by field (NIOSSL's best-effort equality), not by identity.
    @Test func tlsListenersCompareTheirSettings() {
        func listener(_ version: TLSVersion) -> BrokerConfiguration.Listener {
            // Only compared, never used for a handshake: no certificate is needed.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = version
            return .init(port: 8883, transport: .tls(tls))
        }
        #expect(listener(.tlsv12) == listener(.tlsv12))
        #expect(listener(.tlsv12).hashValue == listener(.tlsv12).hashValue)
        #expect(listener(.tlsv12) != listener(.tlsv13))
        #expect(listener(.tlsv12) != .init(port: 8883))
    }
}
