import Foundation
import MQTT
import NIOCore
import StarlingBroker
import StarlingOperations
import StarlingTesting
import Testing

/// Who may use the operations listener: a bearer token, or users of the password file over HTTP Basic.
@Suite struct CredentialsTests {
    static func basic(_ credentials: String) -> [(String, String)] {
        [("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString())]
    }

    @Test func aTokenIsRequiredOnceConfigured() async throws {
        try await OperationsHarness.with(configuration: OperationsConfiguration(port: 0, token: "s3cret")) { operations in
            let anonymous = try await operations.request("/api/v1/stats")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers["WWW-Authenticate"].first?.hasPrefix("Bearer") == true)
            #expect(try await operations.request("/metrics").status == .unauthorized)
            let wrong = try await operations.request("/api/v1/stats", headers: [("Authorization", "Bearer s3cre")])
            #expect(wrong.status == .unauthorized)
            let right = try await operations.request("/api/v1/stats", headers: [("Authorization", "Bearer s3cret")])
            #expect(right.status == .ok)
            // Health checks and the dashboard's files need nothing: the dashboard asks for the token itself.
            #expect(try await operations.request("/healthz").status == .ok)
            #expect(try await operations.request("/").status == .ok)
        }
    }

    @Test func usersOfThePasswordFileSignInWithBasicCredentials() async throws {
        let file = PasswordFile(users: [ExactString("ops"): PasswordHash(password: Array("hunter2".utf8), iterations: 1_000)])
        let users = PasswordFileAuthenticator(file)
        try await OperationsHarness.with(configuration: OperationsConfiguration(port: 0, users: users)) { operations in
            for (credentials, status) in [("ops:hunter2", 200), ("ops:hunter3", 401), ("nobody:hunter2", 401)] {
                let answer = try await operations.request("/api/v1/stats", headers: Self.basic(credentials))
                #expect(answer.status.code == status, "\(credentials)")
            }
            #expect(try await operations.request("/api/v1/stats").status == .unauthorized)
        }
    }
}
