import ArgumentParser
import Foundation
import MQTT
import NIOCore
import NIOSSL
import StarlingBench
import StarlingClient
import Synchronization

/// `starling bench`: a load generator for MQTT brokers.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a broker: connections, throughput, loss, duplicates, ordering and latency.",
        discussion: """
            Scenarios: conn (open N connections at a rate and hold them), pub, sub, fanin (P publishers on their \
            own topics, one wildcard subscriber), pairs (P publisher/subscriber pairs), fanout (one publisher, S \
            subscribers), latency (QoS 1 at a fixed rate, 1,000 msg/s unless --rate), sharedsub (P publishers \
            into a $share group of S members), churn (--rounds rounds of --connections short-lived connections \
            of every kind, with the broker's memory after each round: give --broker-pid), storm (--connections \
            clients with persistent sessions and a subscription each drop their connections, a QoS 1 message is \
            published to them, and all reconnect at once: the time until every one has it). Every run ends by itself \
            after --count, --duration or its rounds. The exit status is 3 when a message was lost or duplicated.
            """
    )

    @Argument(help: "Scenario: \(BenchOptions.Scenario.allCases.map(\.rawValue).joined(separator: ", ")), churn, storm.")
    var scenario: String = "fanin"

    @Option(name: [.customShort("h"), .long], help: "Broker host.")
    var host = "127.0.0.1"

    @Option(name: [.customShort("p"), .long], help: "Broker port (default 1883, 8883 with TLS).")
    var port: Int?

    @Option(name: [.customShort("L"), .long], help: ArgumentHelp(
        "Broker URL, mqtt://[user[:password]@]host:port or mqtts://…, instead of --host and --port.",
        discussion: "Repeated (the nodes of a cluster, say): publisher i connects to the (i mod N)th, subscriber j to the (N - 1 - j mod N)th, so that with two URLs a publisher and a subscriber are on different brokers."))
    var url: [String] = []

    @Option(name: [.customShort("u"), .customLong("username")], help: "User name every connection gives.")
    var userName: String?

    // -P is the publishers here: the password is --pw only.
    @Option(name: [.customLong("pw")], help: "Password every connection gives (with -u).")
    var password: String?

    @Flag(name: .long, help: "Connect with TLS.")
    var tls = false

    @Option(name: .long, help: "CA certificates (PEM) to trust for the broker's certificate.")
    var cafile: String?

    @Flag(name: .long, help: "Do not verify the broker's certificate (for self-signed test brokers).")
    var insecure = false

    @Option(name: [.customShort("V"), .long], help: "MQTT version: 311 or 5.")
    var mqttVersion = "311"

    @Option(name: [.customShort("q"), .long], help: "QoS of every message (latency: 1 unless given).")
    var qos: Int?

    @Option(name: [.customShort("P"), .long], help: "Publishers (pub, fanin, pairs, sharedsub).")
    var publishers = 10

    @Option(name: [.customShort("S"), .long], help: "Subscribers (sub, fanout, sharedsub).")
    var subscribers = 100

    @Option(name: [.customShort("c"), .long], help: "Connections (conn), connections per round (churn), or clients (storm).")
    var connections = 1000

    @Option(name: .long, help: "Rounds of connections (churn); 0 only draws the runs given with --compare.")
    var rounds = 20

    @Option(name: .long, help: "What this run is called in the churn report (the broker's name, say).")
    var label = "this run"

    @Option(name: .long, help: "An earlier churn run's JSON to draw beside this one in the report, as LABEL=FILE (repeatable).")
    var compare: [String] = []

    @Option(name: [.customShort("n"), .long], help: "Messages each publisher sends (default 100000, or unlimited with --duration).")
    var count: Int?

    @Option(name: [.customShort("d"), .long], help: "Seconds to publish (or to hold, for conn and sub).")
    var duration: Double?

    @Option(name: [.customShort("r"), .long], help: "Messages per second across all publishers, or connections per second for conn.")
    var rate: Double?

    @Option(name: [.customShort("s"), .long], help: "Payload size in bytes (at least 20: sequence, publisher, timestamp).")
    var size = 64

    @Option(name: .long, help: "QoS 1/2 messages in flight per publisher.")
    var inflight = 64

    @Option(name: [.customShort("k"), .long], help: "Keep alive in seconds (0: off); connections ping at half of it.")
    var keepalive: UInt16 = 600

    @Option(name: [.customShort("i"), .long], help: "Client identifier pattern; %i is the connection's index, %r a tag of the run.")
    var clientId = "bench-%r-%i"

    @Option(name: [.customShort("t"), .long], help: "Publishers' topic pattern, %i the publisher's index (default per scenario).")
    var topic: String?

    @Option(name: [.customShort("f"), .long], help: "Subscribers' filter pattern, %i the subscriber's index (default per scenario).")
    var filter: String?

    @Option(name: .long, help: "Seconds to wait for messages still in flight after the publishers are done.")
    var drain = 10.0

    @Option(name: .long, help: "Seconds after which the run stops with what it has.")
    var timeout = 300.0

    @Option(name: .long, help: "Connection attempts under way at once.")
    var connectConcurrency = 64

    @Option(name: .long, help: "Use 127.0.0.1 … 127.0.0.N in turn as source addresses (many connections to one port).")
    var sourceAddresses = 0

    @Option(name: .long, help: "Process id of the broker, to report its resident memory per connection and its CPU (Linux).")
    var brokerPid: Int?

    @Option(name: .long, help: "Event loop threads of the load generator.")
    var threads = 1

    @Option(name: .long, help: "Largest read of a connection, in bytes (more messages per system call for flooded QoS 0 subscribers).")
    var readBuffer = 64 * 1024

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    @Option(name: .long, help: "Write a self-contained HTML page charting the run.")
    var report: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "A progress line once a second (default: when standard error is a terminal).")
    var progress: Bool?

    func run() async throws {
        if scenario == "churn" {
            try await runChurn()
            return
        }
        if scenario == "storm" {
            try await runStorm()
            return
        }
        guard let scenario = BenchOptions.Scenario(rawValue: scenario) else {
            throw ValidationError("unknown scenario '\(scenario)'")
        }
        let qosValue = qos ?? (scenario == .latency ? 1 : 0)
        guard let qos = QoS(rawValue: UInt8(clamping: qosValue)), qosValue >= 0 else { throw ValidationError("QoS must be 0, 1 or 2") }
        var options = BenchOptions()
        options.scenario = scenario
        var useTLS = tls
        options.host = host
        if !url.isEmpty {
            var brokers: [(host: String, port: Int)] = []
            var first: URLComponents?
            for url in self.url {
                guard let parsed = URLComponents(string: url), let scheme = parsed.scheme, ["mqtt", "mqtts", "tcp", "ssl"].contains(scheme) else {
                    throw ValidationError("URL must look like mqtt://host:port or mqtts://host:port")
                }
                useTLS = useTLS || scheme == "mqtts" || scheme == "ssl"
                brokers.append((parsed.host ?? host, parsed.port ?? (useTLS ? 8883 : 1883)))
                first = first ?? parsed
            }
            (options.host, options.port) = brokers[0]
            options.moreBrokers = Array(brokers.dropFirst())
            if !options.moreBrokers.isEmpty, scenario == .conn {
                throw ValidationError("conn connects to one broker: give -L once")
            }
            // mqtt://user:pass@host, as mosquitto_pub -L takes them; -u and --pw win.
            options.userName = first?.user?.removingPercentEncoding
            options.password = first?.password?.removingPercentEncoding
        } else {
            options.port = port ?? (useTLS ? 8883 : 1883)
        }
        if useTLS {
            var configuration = try MQTTClientConfiguration.tls(caFile: cafile)
            if insecure { configuration.certificateVerification = .none }
            options.tls = configuration
        }
        options.version = ["5", "50", "5.0", "mqttv5"].contains(mqttVersion) ? .v5 : .v3_1_1
        if let userName { options.userName = userName }
        if let password { options.password = password }
        options.qos = qos
        options.publishers = publishers
        options.subscribers = subscribers
        options.connections = connections
        options.messagesPerPublisher = count ?? (duration == nil ? (scenario == .latency ? 10_000 : 100_000) : nil)
        options.duration = duration.map { .nanoseconds(Int64($0 * 1e9)) }
        options.rate = rate
        options.payloadSize = size
        options.inflight = inflight
        options.keepAlive = keepalive
        options.clientIdentifier = clientId
        options.topic = topic
        options.filter = filter
        options.drain = .nanoseconds(Int64(drain * 1e9))
        options.timeout = .nanoseconds(Int64(timeout * 1e9))
        options.connectConcurrency = connectConcurrency
        options.sourceAddresses = sourceAddresses
        options.brokerProcessIdentifier = brokerPid
        options.threads = threads
        options.readBuffer = readBuffer

        let showProgress = progress ?? (isatty(STDERR_FILENO) != 0)
        var progressLine: (@Sendable (BenchProgress) -> Void)?
        if showProgress { progressLine = { @Sendable in ProgressPrinter.shared.print($0) } }
        let result = try await BenchRunner.run(options, progress: progressLine)
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(BenchJSON(result)), as: UTF8.self))
        } else {
            print(BenchSummary.table(result))
        }
        if let report {
            let brokers = ([(options.host, options.port)] + options.moreBrokers).map { "\($0.0):\($0.1)" }.joined(separator: ", ")
            let title = "starling bench \(scenario.rawValue) — \(brokers)"
            try BenchReport.html(result, title: title).write(toFile: report, atomically: true, encoding: .utf8)
        }
        if result.lost > 0 || result.duplicates > 0 { throw ExitCode(3) }
    }
}

extension BenchCommand {
    /// The churn soak: rounds of short-lived connections, the broker's memory after each.
    func runChurn() async throws {
        var options = ChurnRunner.Options()
        options.host = host
        options.port = port ?? 1883
        options.rounds = rounds
        options.connectionsPerRound = connections
        options.concurrency = connectConcurrency
        options.userName = userName
        options.password = password
        options.brokerProcessIdentifier = brokerPid
        options.threads = threads
        options.timeout = .nanoseconds(Int64(timeout * 1e9))
        let earlier = try compare.map { entry -> (label: String, result: ChurnResult) in
            guard let separator = entry.firstIndex(of: "=") else { throw ValidationError("--compare takes LABEL=FILE") }
            let data = try Data(contentsOf: URL(fileURLWithPath: String(entry[entry.index(after: separator)...])))
            return (String(entry[..<separator]), try JSONDecoder().decode(ChurnResult.self, from: data))
        }
        if rounds == 0 {
            // Only a report of saved runs.
            guard let report, !earlier.isEmpty else { throw ValidationError("--rounds 0 draws saved runs: give --compare and --report") }
            try ChurnReport.html(earlier, title: "starling bench churn").write(toFile: report, atomically: true, encoding: .utf8)
            return
        }
        let result = try await ChurnRunner.run(options) { round in
            let memory = round.brokerBytes.map { ", broker \(ChurnReport.megabytes($0))" } ?? ""
            FileHandle.standardError.write(Data("round \(round.index + 1): \(round.connections) connections, \(round.failed) failed\(memory)\n".utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(ChurnReport.table(result))
        }
        if let report {
            let title = "starling bench churn — \(options.host):\(options.port)"
            try ChurnReport.html([(label: label, result: result)] + earlier, title: title)
                .write(toFile: report, atomically: true, encoding: .utf8)
        }
        if result.totalFailed > 0 { throw ExitCode(3) }
    }
}

extension BenchCommand {
    /// The reconnect storm: every client's session resumed and its queued message delivered, against the clock.
    func runStorm() async throws {
        #if os(Linux)
        var options = StormRunner.Options()
        options.host = host
        options.port = port ?? 1883
        options.clients = connections
        options.version = mqttVersion == "5" ? .v5 : .v3_1_1
        options.window = connectConcurrency
        options.sourceAddresses = sourceAddresses
        options.userName = userName
        options.password = password
        options.brokerProcessIdentifier = brokerPid
        let result = try await StormRunner.run(options)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            let cpu = result.brokerMicrosecondsPerClient.map { String(format: "; broker CPU %.1f µs per client", $0) } ?? ""
            print(String(
                format: "storm: %d clients back with their sessions and their message in %.3f s (%.0f/s); %d sessions present, %d received, %d lost, %d failed",
                result.clients, result.seconds, result.perSecond, result.sessionsPresent, result.received, result.lost, result.failed) + cpu)
            if let firstError = result.firstError { print("first error: \(firstError)") }
        }
        if result.lost > 0 || result.sessionsPresent < result.clients { throw ExitCode(3) }
        #else
        throw ValidationError("storm needs Linux")
        #endif
    }
}

/// The JSON form of a result: every measured field plus the derived rates.
private struct BenchJSON: Encodable {
    let result: BenchResult
    init(_ result: BenchResult) { self.result = result }

    enum Keys: String, CodingKey { case result, lost, rate, sendRate = "send_rate", connectRate = "connect_rate", brokerBytesPerConnection = "broker_bytes_per_connection" }

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(result.lost, forKey: .lost)
        try container.encode(result.rate, forKey: .rate)
        try container.encode(result.sendRate, forKey: .sendRate)
        try container.encode(result.connections.perSecond, forKey: .connectRate)
        try container.encodeIfPresent(result.connections.brokerBytesPerConnection, forKey: .brokerBytesPerConnection)
    }
}

/// Rewrites one line of standard error with the run's progress.
private final class ProgressPrinter: Sendable {
    static let shared = ProgressPrinter()
    private let previous = Mutex<BenchProgress?>(nil)

    func print(_ progress: BenchProgress) {
        let line = previous.withLock { previous in
            defer { previous = progress }
            return progress.line(since: previous)
        }
        // On a terminal the line is rewritten in place; into a file, one line a second.
        let prefix = isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" : "\n"
        FileHandle.standardError.write(Data((prefix + line).utf8))
    }
}
