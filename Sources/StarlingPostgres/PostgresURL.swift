import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://` or `postgresql://` URL, as libpq and most tools take it:
/// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable|prefer|require&host=/socket/folder`.
/// The port is 5432 unless given; `sslmode` is `prefer` unless given, as libpq's; a `host` query item names a
/// folder holding the server's Unix socket, used instead of TCP.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: SSLMode
    /// The folder of the server's Unix socket (`.s.PGSQL.PORT` in it); nil for TCP.
    public var socketFolder: String?

    /// libpq's `sslmode`, the three values that need no certificate files.
    public enum SSLMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    /// A URL that does not say where a PostgreSQL server is.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `string`; throws `Invalid` saying what is wrong.
    public init(_ string: String) throws {
        guard let components = URLComponents(string: string), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw Invalid(description: "\(Self.redacted(string)) is not a postgres:// URL")
        }
        let items = components.queryItems ?? []
        socketFolder = items.first { $0.name == "host" }?.value.flatMap { $0.hasPrefix("/") ? $0 : nil }
        guard let host = components.host, !host.isEmpty || socketFolder != nil else {
            throw Invalid(description: "\(Self.redacted(string)) names no host")
        }
        self.host = host.isEmpty ? "localhost" : host
        port = components.port ?? 5432
        username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.drop { $0 == "/" }
        database = path.isEmpty ? nil : String(path).removingPercentEncoding
        let mode = items.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard let sslMode = SSLMode(rawValue: mode) else {
            throw Invalid(description: "sslmode \(mode) is not one of disable, prefer, require")
        }
        self.sslMode = sslMode
    }

    /// The URL without its password, for logs.
    public var description: String {
        var text = "postgres://\(username)@\(host):\(port)"
        if let database { text += "/\(database)" }
        if let socketFolder { text += "?host=\(socketFolder)" }
        return text
    }

    /// The client's configuration for this server.
    public var clientConfiguration: PostgresClient.Configuration {
        if let socketFolder {
            return PostgresClient.Configuration(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        }
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// The configuration of a single connection to this server.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let socketFolder {
            return PostgresConnection.Configuration(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        }
        let tls: PostgresConnection.Configuration.TLS =
            switch sslMode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    private static func redacted(_ string: String) -> String {
        guard var components = URLComponents(string: string), components.password != nil else { return string }
        components.password = "***"
        return components.string ?? string
    }
}
