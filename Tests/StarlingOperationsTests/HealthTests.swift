import Logging
import NIOCore
import StarlingBroker
import StarlingOperations
import StarlingTesting
import Testing

/// `/healthz` and `/readyz`, and the listener's own rules.
@Suite struct HealthTests {
    @Test func healthAndReadinessAnswerOKWhileTheBrokerServes() async throws {
        try await OperationsHarness.with { operations in
            let health = try await operations.request("/healthz")
            #expect(health.status == .ok)
            let ready = try await operations.request("/readyz")
            #expect(ready.status == .ok)
        }
    }

    /// A broker that has not started (or has stopped) is not healthy: 503, with a reason.
    @Test func aBrokerNotServingIsUnhealthy() async throws {
        let broker = MQTTBroker(configuration: BrokerConfiguration(listeners: []))
        try await OperationsHarness.run({ OperationsServer(broker: broker, configuration: OperationsConfiguration(port: 0), logger: TestBroker.quietLogger, onServerRunning: $0) }) { port, http in
            let health = try await OperationsHarness.request(http, port: port, .GET, "/healthz")
            #expect(health.status == .serviceUnavailable)
            #expect(try health.json["error"] as? String == "not serving: starting or shutting down")
            #expect(try await OperationsHarness.request(http, port: port, .GET, "/readyz").status == .serviceUnavailable)
        }
    }

    /// Beyond loopback, the listener refuses to start without credentials.
    @Test func aListenerBeyondLoopbackNeedsCredentials() async throws {
        let broker = MQTTBroker(configuration: BrokerConfiguration(listeners: []))
        let open = OperationsServer(broker: broker, configuration: OperationsConfiguration(host: "0.0.0.0", port: 0))
        await #expect(throws: OperationsConfigurationError.credentialsRequired(host: "0.0.0.0")) { try await open.run() }
        #expect(OperationsConfiguration(host: "0.0.0.0", port: 0, token: "secret").problem == nil)
        #expect(OperationsConfiguration(host: "127.0.0.1", port: 0).problem == nil)
    }

    @Test func unknownPathsAndMethodsAnswerJSONErrors() async throws {
        try await OperationsHarness.with { operations in
            let missing = try await operations.request("/api/v1/nothing-here")
            #expect(missing.status == .notFound)
            #expect(try missing.json["error"] is String)
            let wrongMethod = try await operations.request(.PUT, "/api/v1/stats")
            #expect(wrongMethod.status.code >= 400 && wrongMethod.status.code < 500)
            #expect(try wrongMethod.json["error"] is String)
        }
    }

    /// The OpenAPI document and the dashboard are served from the package's resources.
    @Test func theOpenAPIDocumentAndTheDashboardAreServed() async throws {
        try await OperationsHarness.with { operations in
            let document = try await operations.request("/api/v1/openapi.json")
            #expect(document.status == .ok)
            #expect(try document.json["openapi"] as? String == "3.0.3")
            let paths = try document.json["paths"] as? [String: Any]
            #expect(paths?["/clients/{clientId}"] != nil)
            let page = try await operations.request("/")
            #expect(page.status == .ok)
            #expect(page.headers["Content-Type"].first?.hasPrefix("text/html") == true)
            #expect(page.body.contains("/assets/app.js"))
            let script = try await operations.request("/assets/app.js")
            #expect(script.status == .ok)
            #expect(try await operations.request("/assets/nothing.js").status == .notFound)
        }
    }
}
