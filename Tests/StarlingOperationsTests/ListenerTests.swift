import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import StarlingBroker
import StarlingOperations
import StarlingTestSupport
import StarlingTesting
import Testing

extension Result where Failure == any Error {
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}

/// The operations listener over HTTPS, and the samples behind the dashboard's charts.
@Suite struct ListenerTests {
    @Test func theListenerServesHTTPSWithTheConfiguredCertificate() async throws {
        let certificates = try TestCertificates.get()
        let serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKey, format: .pem)))
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.trustRoots = .file(certificates.caCertificate)
        clientTLS.certificateVerification = .noHostnameVerification
        let https = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: clientTLS))
        let outcome = await Result { () async throws in
            try await Self.checkHTTPS(serverTLS, https)
        }
        try await https.shutdown()
        try outcome.get()
    }

    private static func checkHTTPS(_ serverTLS: TLSConfiguration, _ https: HTTPClient) async throws {
        try await OperationsHarness.with(configuration: OperationsConfiguration(port: 0, tls: serverTLS)) { operations in
            let response = try await https.execute(HTTPClientRequest(url: "https://127.0.0.1:\(operations.port)/healthz"), timeout: .seconds(20))
            #expect(response.status == .ok)
            // Plain HTTP on the HTTPS port gets no answer.
            await #expect(throws: (any Error).self) { _ = try await operations.request("/healthz") }
        }
    }

    @Test func theCountersAreSampledForTheCharts() async throws {
        let configuration = OperationsConfiguration(port: 0, historyInterval: .milliseconds(20), historyLength: 5)
        try await OperationsHarness.with(configuration: configuration) { operations in
            let publisher = try await operations.broker.client("sampled", version: .v5)
            try await publisher.publish("s", "x")
            let deadline = ContinuousClock.now + .seconds(20)
            var samples: [[String: Any]] = []
            while samples.count < 5 || (samples.last?["messagesReceived"] as? Int ?? 0) < 1 {
                guard ContinuousClock.now < deadline else { Issue.record("only \(samples.count) samples"); return }
                try await Task.sleep(for: .milliseconds(20))
                samples = try await operations.request("/api/v1/stats/history").json["samples"] as? [[String: Any]] ?? []
            }
            #expect(samples.count == 5)
            let times = samples.compactMap { $0["time"] as? Double }
            #expect(times == times.sorted())
            #expect(samples.last?["connections"] as? Int == 1)
        }
    }
}
