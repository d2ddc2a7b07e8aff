import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `starling ctl`: the admin API of a running broker (`--http-port`) from the command line.
struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Look at and manage a running broker through its operations listener (serve --http-port).",
        discussion: """
            starling ctl stats                   what the broker holds and has done
            starling ctl clients [--prefix P]    sessions and their clients
            starling ctl client ID               one client, with its subscriptions
            starling ctl kick ID [--discard]     disconnect a client (5.0: reason 0x98), optionally ending its session
            starling ctl retained [--pattern F]  retained messages
            Exit status: 0 on success, 1 when the broker cannot be reached or refuses, 64 for bad arguments.
            """,
        subcommands: [Stats.self, Clients.self, Client.self, Kick.self, Retained.self, Nodes.self]
    )

    struct Connection: ParsableArguments {
        @Option(name: .long, help: "The operations listener's URL (default: $STARLING_HTTP_URL or http://127.0.0.1:8080).")
        var http: String?

        @Option(name: .long, help: "Bearer token of the operations listener (default: $STARLING_HTTP_TOKEN).")
        var token: String?

        @Flag(name: .long, help: "Print the API's JSON instead of text.")
        var json = false

        var baseURL: String {
            let url = http ?? ProcessInfo.processInfo.environment["STARLING_HTTP_URL"] ?? "http://127.0.0.1:8080"
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }

        var bearer: String? { token ?? ProcessInfo.processInfo.environment["STARLING_HTTP_TOKEN"] }
    }

    /// Which part of a long list: the API's `offset` and `limit`.
    struct Page: ParsableArguments {
        @Option(name: .long, help: "Skip this many (default: 0).")
        var offset = 0
        @Option(name: .long, help: "At most this many, 1 to 1000 (default: 100).")
        var limit = 100

        var query: [(String, String)] { [("offset", "\(offset)"), ("limit", "\(limit)")] }
    }

    struct Nodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The nodes of the cluster, as the node asked sees them.")
        @OptionGroup var connection: Connection

        func run() async throws {
            try await AdminRequest.run(connection, .GET, "/api/v1/nodes") { json in
                guard json["clustered"] as? Bool == true else { return "not a cluster: this broker runs on its own" }
                let nodes = json["nodes"] as? [[String: Any]] ?? []
                var lines = ["NODE            ADDRESS                 STATE   LINK  ROUTES  FORWARDED HERE"]
                for node in nodes {
                    let name = "\(node["name"] ?? "?")" + (node["self"] as? Bool == true ? " *" : "")
                    let state = node["alive"] as? Bool == true ? "alive" : "gone"
                    let link = node["self"] as? Bool == true ? "-" : node["linked"] as? Bool == true ? "up" : "down"
                    lines.append(
                        name.padding(toLength: 16, withPad: " ", startingAt: 0)
                            + "\(node["address"] ?? "?")".padding(toLength: 24, withPad: " ", startingAt: 0)
                            + state.padding(toLength: 8, withPad: " ", startingAt: 0) + link.padding(toLength: 6, withPad: " ", startingAt: 0)
                            + "\(node["routes"] ?? 0)".padding(toLength: 8, withPad: " ", startingAt: 0) + "\(node["forwardedFrom"] ?? 0)")
                }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What the broker holds and has done since it started.")
        @OptionGroup var connection: Connection

        func run() async throws {
            try await AdminRequest.run(connection, .GET, "/api/v1/stats") { json in
                let connections = json["connections"] as? [String: Any] ?? [:]
                let sessions = json["sessions"] as? [String: Any] ?? [:]
                let subscriptions = json["subscriptions"] as? [String: Any] ?? [:]
                let retained = json["retained"] as? [String: Any] ?? [:]
                let messages = json["messages"] as? [String: Any] ?? [:]
                let bytes = json["bytes"] as? [String: Any] ?? [:]
                return """
                    version        \(json["version"] ?? "?"), up \(Self.duration(json["uptimeSeconds"] as? Int ?? 0))
                    connections    \(connections["current"] ?? 0) (\(connections["hibernating"] ?? 0) hibernating), \(connections["accepted"] ?? 0) accepted since start
                    sessions       \(sessions["current"] ?? 0) (\(sessions["offline"] ?? 0) offline)
                    subscriptions  \(subscriptions["current"] ?? 0) (\(subscriptions["shared"] ?? 0) shared)
                    retained       \(retained["messages"] ?? 0) messages, \(retained["bytes"] ?? 0) bytes
                    messages       \(messages["received"] ?? 0) received, \(messages["sent"] ?? 0) sent, \(messages["dropped"] ?? 0) dropped
                    bytes          \(bytes["received"] ?? 0) received, \(bytes["sent"] ?? 0) sent
                    """
            }
        }

        static func duration(_ seconds: Int) -> String {
            let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60)
            if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
            if hours > 0 { return "\(hours)h \(minutes)m" }
            return minutes > 0 ? "\(minutes)m \(seconds % 60)s" : "\(seconds)s"
        }
    }

    struct Clients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions and their clients, by client identifier.")
        @OptionGroup var connection: Connection
        @Option(name: .long, help: "Only client identifiers starting with this.")
        var prefix: String?
        @Option(name: .long, help: "Only clients of this user.")
        var user: String?
        @Flag(name: .long, help: "Only connected clients.")
        var connected = false
        @Flag(name: .long, help: "Only sessions whose client is away.")
        var offline = false
        @OptionGroup var page: Page

        func validate() throws {
            if connected && offline { throw ValidationError("--connected and --offline cannot be used together.") }
        }

        func run() async throws {
            var query = page.query
            if let prefix { query.append(("prefix", prefix)) }
            if let user { query.append(("user", user)) }
            if connected || offline { query.append(("connected", connected ? "true" : "false")) }
            try await AdminRequest.run(connection, .GET, "/api/v1/clients" + AdminRequest.query(query)) { json in
                let clients = json["clients"] as? [[String: Any]] ?? []
                let rows = clients.map { client in
                    [
                        client["clientId"] as? String ?? "", (client["connected"] as? Bool) == true ? "connected" : "offline",
                        client["userName"] as? String ?? "-", client["address"] as? String ?? "-",
                        client["protocolVersion"] as? String ?? "-", "\(client["subscriptions"] ?? 0)", "\(client["queued"] ?? 0)",
                    ]
                }
                let table = AdminRequest.table(["CLIENT ID", "STATE", "USER", "ADDRESS", "MQTT", "SUBS", "QUEUED"], rows)
                return table + "\(clients.count) shown of \(json["total"] ?? 0)"
            }
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One client and its subscriptions.")
        @OptionGroup var connection: Connection
        @Argument(help: "The client identifier.")
        var clientIdentifier: String

        func run() async throws {
            try await AdminRequest.run(connection, .GET, "/api/v1/clients/" + AdminRequest.pathComponent(clientIdentifier)) { json in
                var lines = ["client id      \(json["clientId"] ?? "")"]
                let connected = (json["connected"] as? Bool) == true
                lines.append("state          " + (connected ? "connected" : "offline"))
                if let user = json["userName"] as? String { lines.append("user           \(user)") }
                if let address = json["address"] as? String { lines.append("address        \(address)") }
                if let version = json["protocolVersion"] as? String { lines.append("protocol       MQTT \(version)") }
                if let keepAlive = json["keepAlive"] as? Int { lines.append("keep alive     \(keepAlive) s") }
                if let since = json["connectedSince"] as? Double {
                    lines.append("connected at   \(Date(timeIntervalSince1970: since).formatted(.iso8601))")
                }
                let expiry = json["sessionExpiry"] as? Int ?? 0
                lines.append("session expiry " + (expiry == Int(UInt32.max) ? "never" : "\(expiry) s"))
                lines.append("in flight      \(json["inflight"] ?? 0)")
                lines.append("queued         \(json["queued"] ?? 0)")
                let subscriptions = json["subscriptionList"] as? [[String: Any]] ?? []
                lines.append("subscriptions  \(subscriptions.count)")
                for subscription in subscriptions {
                    lines.append("  \(subscription["filter"] ?? "") (QoS \(subscription["qos"] ?? 0))")
                }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct Kick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a client; 5.0 clients are told 0x98 (Administrative action).")
        @OptionGroup var connection: Connection
        @Flag(name: .long, help: "Also end its session: its subscriptions and queued messages go.")
        var discard = false
        @Argument(help: "The client identifier.")
        var clientIdentifier: String

        func run() async throws {
            let path = "/api/v1/clients/" + AdminRequest.pathComponent(clientIdentifier) + (discard ? "?discard=true" : "")
            try await AdminRequest.run(connection, .DELETE, path) { json in
                let disconnected = (json["disconnected"] as? Bool) == true
                let discarded = (json["discarded"] as? Bool) == true
                return "\(clientIdentifier): " + (disconnected ? "disconnected" : "was not connected")
                    + (discarded ? "; session ended" : "")
            }
        }
    }

    struct Retained: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retained messages, by topic.")
        @OptionGroup var connection: Connection
        @Option(name: .long, help: "Only topics matching this filter (default: #).")
        var pattern: String?
        @OptionGroup var page: Page

        func run() async throws {
            var query = page.query
            if let pattern { query.append(("pattern", pattern)) }
            try await AdminRequest.run(connection, .GET, "/api/v1/retained" + AdminRequest.query(query)) { json in
                let messages = json["messages"] as? [[String: Any]] ?? []
                let rows = messages.map { message in
                    let text = (message["payload"] as? String).map { String($0.prefix(60)) } ?? "(binary)"
                    return [message["topic"] as? String ?? "", "\(message["qos"] ?? 0)", "\(message["payloadSize"] ?? 0)", text]
                }
                return AdminRequest.table(["TOPIC", "QOS", "BYTES", "PAYLOAD"], rows) + "\(messages.count) shown of \(json["total"] ?? 0)"
            }
        }
    }
}

/// One request to the admin API, its answer printed as text or JSON, its failure as one line and exit 1.
enum AdminRequest {
    static func run(
        _ connection: CtlCommand.Connection, _ method: HTTPMethod, _ path: String, text: ([String: Any]) -> String
    ) async throws {
        let url = connection.baseURL + path
        let client = HTTPClient.shared
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token = connection.bearer { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let status: HTTPResponseStatus
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = response.status
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            ClientExit.printError("Error: cannot reach \(connection.baseURL): \(describe(error))")
            throw ExitCode(1)
        }
        let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        guard (200..<300).contains(status.code) else {
            let message = json?["error"] as? String ?? status.reasonPhrase
            let hint = status == .unauthorized ? " (give --token or STARLING_HTTP_TOKEN)" : ""
            ClientExit.printError("Error: \(message)\(hint)")
            throw ExitCode(1)
        }
        if connection.json {
            ClientStandardStreams.write(Array(body.readableBytesView) + [0x0A], to: ClientStandardStreams.standardOutput)
        } else {
            ClientStandardStreams.write(Array((text(json ?? [:]) + "\n").utf8), to: ClientStandardStreams.standardOutput)
        }
    }

    /// `?a=1&b=x%2Fy`.
    static func query(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\($0.0)=\(pathComponent($0.1))" }.joined(separator: "&")
    }

    /// Percent-encodes everything but unreserved characters, `/` included.
    static func pathComponent(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Columns padded to their widest cell; ends with a newline.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .connectTimeout { return "connection timed out" }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}
