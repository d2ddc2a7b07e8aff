import Foundation
import Logging
import PostgresNIO
import StarlingPostgres
import Testing

/// The PostgreSQL server the tests use, named by `STARLING_TEST_POSTGRES_URL` (`.ci/run` starts a throwaway one
/// with `Scripts/postgres-server.sh`); the tests that need it are skipped without it. Each test gets a database of
/// its own, dropped afterwards.
enum PostgresTestDatabase {
    static let serverURL: PostgresURL? = ProcessInfo.processInfo.environment["STARLING_TEST_POSTGRES_URL"].flatMap { try? PostgresURL($0) }
    static var available: Bool { serverURL != nil }

    /// Runs `body` with the URL of a new, empty database, dropped when `body` returns or throws.
    static func withDatabase<T>(_ body: (PostgresURL) async throws -> T) async throws -> T {
        let server = try #require(serverURL)
        let name = "starling_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        try await administer(server, "CREATE DATABASE \(name)")
        var url = server
        url.database = name
        do {
            let result = try await body(url)
            try await administer(server, "DROP DATABASE \(name) WITH (FORCE)")
            return result
        } catch {
            try? await administer(server, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs one statement on the server's own database.
    static func administer(_ server: PostgresURL, _ sql: String) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try server.connectionConfiguration(), id: 1, logger: Logger(label: "test.postgres"))
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test.postgres"))
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// Runs one statement in the database at `url`.
    static func run(_ url: PostgresURL, _ sql: String) async throws {
        try await administer(url, sql)
    }

    /// The first column of every row `sql` returns.
    static func column<Value: PostgresDecodable & Sendable>(_ url: PostgresURL, _ sql: String, as _: Value.Type = Value.self) async throws -> [Value] {
        let logger = Logger(label: "test.postgres")
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
        do {
            var values: [Value] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Value.self) {
                values.append(value)
            }
            try await connection.close()
            return values
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static func integers(_ url: PostgresURL, _ sql: String) async throws -> [Int64] { try await column(url, sql) }

    static func strings(_ url: PostgresURL, _ sql: String) async throws -> [String] { try await column(url, sql) }
}
