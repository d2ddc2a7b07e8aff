import Foundation
import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// `starling pub` and `starling sub` run as programs against mosquitto.
@Suite(.enabled(if: MosquittoBroker.isInstalled, "needs mosquitto at /usr/sbin/mosquitto"), .timeLimit(.minutes(1)))
struct CommandLineTests {
    /// The `starling` program built beside this test bundle (or the one STARLING_CLI names).
    static let executable: String = {
        if let override = ProcessInfo.processInfo.environment["STARLING_CLI"] { return override }
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundle.appendingPathComponent("starling").path
    }()

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    static func start(_ arguments: [String], withStandardInput: Bool = false) throws -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw MosquittoBroker.BrokerFailed(log: "\(executable) is missing: build the package first (swift build)")
        }
        return try ChildProcess("/usr/bin/timeout", ["30", executable] + arguments, withStandardInput: withStandardInput)
    }

    static func finish(_ process: ChildProcess, outputSoFar: String = "") async -> Outcome {
        async let output = ChildProcess.readAll(process.standardOutput)
        async let errors = ChildProcess.readAll(process.standardError)
        let status = await process.exitStatus()
        return Outcome(status: status, output: outputSoFar + (await output), errors: await errors)
    }

    static func run(_ arguments: [String], input: String? = nil) async throws -> Outcome {
        let process = try start(arguments, withStandardInput: input != nil)
        if let input, let standardInput = process.standardInput {
            try standardInput.write(contentsOf: Data(input.utf8))
            try standardInput.close()
        }
        return await finish(process)
    }

    static func broker(_ broker: MosquittoBroker, port: Int? = nil) -> [String] {
        ["-h", "127.0.0.1", "-p", "\(port ?? broker.port)"]
    }

    @Test func publishedRetainedMessageIsPrintedBySub() async throws {
        try await withMosquitto { broker in
            let published = try await Self.run(["pub"] + Self.broker(broker) + ["-t", "cli/a", "-m", "hello", "-r", "-q", "1"])
            #expect(published.status == 0, "\(published.errors)")
            #expect(published.output.isEmpty && published.errors.isEmpty)
            let received = try await Self.run(["sub"] + Self.broker(broker) + ["-t", "cli/#", "-C", "1", "-v"])
            #expect(received.status == 0, "\(received.errors)")
            #expect(received.output == "cli/a hello\n")
        }
    }

    @Test(arguments: ["311", "5"])
    func liveMessagesGoFromPubToSub(version: String) async throws {
        try await withMosquitto { broker in
            let marker = try await Self.run(["pub"] + Self.broker(broker) + ["-V", version, "-t", "live/marker", "-m", "ready", "-r"])
            #expect(marker.status == 0, "\(marker.errors)")
            let subscriber = try Self.start(["sub"] + Self.broker(broker) + ["-V", version, "-t", "live/#", "-C", "3", "-q", "2", "-F", "%t|%p|%q|%r"])
            // The retained marker arrives once the subscription is in place.
            let first = await ChildProcess.read(subscriber.standardOutput, until: "\n")
            #expect(first == "live/marker|ready|0|1\n")
            let lines = try await Self.run(["pub"] + Self.broker(broker) + ["-V", version, "-t", "live/lines", "-l", "-q", "2"], input: "one\n\ntwo\n")
            #expect(lines.status == 0, "\(lines.errors)")
            let received = await Self.finish(subscriber, outputSoFar: first)
            #expect(received.status == 0, "\(received.errors)")
            #expect(received.output == "live/marker|ready|0|1\nlive/lines|one|2|0\nlive/lines|two|2|0\n")
        }
    }

    /// A kept session brings back its earlier subscriptions' messages; they are printed whatever `-t` says now.
    @Test(arguments: ["311", "5"])
    func aResumedSessionsMessagesArePrinted(version: String) async throws {
        try await withMosquitto { broker in
            let session = ["-c", "-i", "kept-\(version)", "-q", "1", "-V", version]
            let subscribed = try await Self.run(["sub"] + Self.broker(broker) + session + ["-t", "kept/x", "-E"])
            #expect(subscribed.status == 0, "\(subscribed.errors)")
            let published = try await Self.run(["pub"] + Self.broker(broker) + ["-t", "kept/x", "-m", "while away", "-q", "1"])
            #expect(published.status == 0, "\(published.errors)")
            let received = try await Self.run(["sub"] + Self.broker(broker) + session + ["-t", "kept/y", "-v", "-C", "1", "-W", "10"])
            #expect(received.status == 0, "\(received.errors)")
            #expect(received.output == "kept/x while away\n")
        }
    }

    /// `sub -c` that ends after -C messages leaves its subscription in the kept session, as mosquitto_sub does:
    /// what is published while it is away waits for the next run.
    @Test(arguments: ["311", "5"])
    func aKeptSessionKeepsItsSubscriptionWhenSubEnds(version: String) async throws {
        try await withMosquitto { broker in
            let session = ["-c", "-i", "ends-\(version)", "-q", "1", "-V", version]
            let retained = try await Self.run(["pub"] + Self.broker(broker) + ["-t", "ends/x", "-m", "first", "-q", "1", "-r"])
            #expect(retained.status == 0, "\(retained.errors)")
            let first = try await Self.run(["sub"] + Self.broker(broker) + session + ["-t", "ends/x", "-C", "1", "-W", "10", "-d"])
            #expect(first.status == 0, "\(first.errors)")
            #expect(!first.output.contains("UNSUBSCRIBE"), "\(first.output)")
            // Ended by -W rather than -C: the same.
            let waited = try await Self.run(["sub"] + Self.broker(broker) + session + ["-t", "ends/z", "-W", "1", "-d"])
            #expect(waited.status == 27, "\(waited.errors)")
            #expect(waited.output.contains("SUBSCRIBE") && !waited.output.contains("UNSUBSCRIBE"), "\(waited.output)")
            let published = try await Self.run(["pub"] + Self.broker(broker) + ["-t", "ends/x", "-m", "while away", "-q", "1"])
            #expect(published.status == 0, "\(published.errors)")
            let received = try await Self.run(["sub"] + Self.broker(broker) + session + ["-t", "ends/y", "-v", "-C", "1", "-W", "10"])
            #expect(received.status == 0, "\(received.errors)")
            #expect(received.output == "ends/x while away\n")
        }
    }

    /// A plain client on a TLS port is told the port wants TLS, not that the broker's answer is malformed.
    @Test func aPlainClientOnATLSPortIsToldToUseTLS() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starling-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(folder)/key.pem", "-out", "\(folder)/cert.pem",
            "-days", "1", "-subj", "/CN=localhost",
        ])
        #expect(made.status == 0, "\(made.errors)")
        // Port 0, and the port read from the broker's own line: a port reserved and released first could be taken
        // by another test's broker meanwhile, and the client would then talk to that one.
        let configuration = """
            listeners:
              secure: {host: 127.0.0.1, port: 0, protocol: mqtts, tls: {certificate: \(folder)/cert.pem, key: \(folder)/key.pem}}
            """
        try configuration.write(toFile: "\(folder)/starling.yaml", atomically: true, encoding: .utf8)
        // A Starling TLS listener: it answers a plain CONNECT with a TLS alert.
        let broker = try Self.start(["serve", "--config", "\(folder)/starling.yaml", "--memory"])
        let started = await ChildProcess.read(broker.standardError, until: "listening")
        let address = try #require(started.range(of: "mqtts://127.0.0.1:"), "no address in: \(started)")
        let port = String(started[address.upperBound...].prefix { $0.isNumber })
        try #require(!port.isEmpty && port != "0", "no port in: \(started)")
        let refused = try await Self.run(["pub", "-h", "127.0.0.1", "-p", "\(port)", "-t", "a", "-m", "b"])
        broker.signal(SIGTERM)
        _ = await broker.exitStatus()
        #expect(refused.status == 1)
        #expect(refused.errors.contains("this port expects a TLS connection"), "\(refused.errors)")
        #expect(refused.errors.contains("--cafile"), "\(refused.errors)")
    }

    /// --auth-method SCRAM-SHA-256 proves -u and -P to a broker with SCRAM (here an embedded Starling), and a wrong
    /// password is refused with 5.0's Bad User Name or Password (exit status 134).
    @Test func scramAuthenticationFromTheCommandLine() async throws {
        let scram = SCRAMAuthenticator(users: ["alice": .init(password: "pencil", iterations: 4_096)])
        try await TestBroker.with(authenticator: scram) { broker in
            let address = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-V", "5", "--auth-method", "SCRAM-SHA-256", "-u", "alice"]
            let published = try await Self.run(["pub"] + address + ["-P", "pencil", "-t", "scram/cli", "-m", "in", "-r", "-q", "1"])
            #expect(published.status == 0, "\(published.errors)")
            let received = try await Self.run(["sub"] + address + ["-P", "pencil", "-t", "scram/cli", "-C", "1", "-W", "10"])
            #expect(received.output == "in\n", "\(received.errors)")
            let refused = try await Self.run(["pub"] + address + ["-P", "wrong", "-t", "scram/cli", "-m", "x"])
            #expect(refused.status == 134, "\(refused.errors)")
        }
    }

    /// An unknown option gets a suggestion only when it is a near miss.
    @Test func farSuggestionsAreDropped() async throws {
        let far = try await Self.run(["pub", "--pretty", "-t", "a", "-m", "b"])
        #expect(far.status == 64)
        #expect(far.errors.contains("Unknown option '--pretty'") && !far.errors.contains("Did you mean"), "\(far.errors)")
        let near = try await Self.run(["sub", "--prety", "-t", "a"])
        #expect(near.status == 64)
        #expect(near.errors.contains("Did you mean '--pretty'?"), "\(near.errors)")
    }

    /// A port another program holds is named with its listener; the store's full path is said at start, even
    /// when the data directory is relative (it is relative to where the broker was started).
    @Test func aPortInUseIsNamedAndTheStorePathIsSaidInFull() async throws {
        try await withMosquitto { broker in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starling-cwd-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let process = try ChildProcess(
                "/usr/bin/env", ["-C", folder, Self.executable, "serve", "--host", "127.0.0.1", "--port", "\(broker.port)"])
            let outcome = await Self.finish(process)
            #expect(outcome.status == 1)
            #expect(outcome.errors.contains("path=\(folder)/data/starling.db"), "\(outcome.errors)")
            #expect(outcome.errors.hasSuffix("Error: cannot listen on mqtt://127.0.0.1:\(broker.port): Address already in use\n"), "\(outcome.errors)")
        }
    }

    /// An operations listener beyond loopback without credentials would let anybody manage the broker: the broker
    /// does not start, and says why (EX_CONFIG).
    @Test func anOperationsListenerBeyondLoopbackWithoutCredentialsStopsTheBroker() async throws {
        let outcome = try await Self.run(["serve", "--memory", "--host", "127.0.0.1", "--port", "0", "--http-host", "0.0.0.0", "--http-port", "0"])
        #expect(outcome.status == 78, "\(outcome.errors)")
        #expect(outcome.errors.contains("the HTTP listener on 0.0.0.0 is reachable beyond this machine: give it an access token"), "\(outcome.errors)")
    }

    /// An operations port another program holds is named, as an MQTT port is.
    @Test func anOperationsPortInUseIsNamed() async throws {
        try await withMosquitto { broker in
            let outcome = try await Self.run(["serve", "--memory", "--host", "127.0.0.1", "--port", "0", "--http-port", "\(broker.port)"])
            #expect(outcome.status == 1)
            #expect(outcome.errors.hasSuffix("Error: cannot listen on http://127.0.0.1:\(broker.port): Address already in use\n"), "\(outcome.errors)")
        }
    }

    /// A broker whose listener cannot be bound stops, bridges or not: a bridge waiting for the listener's
    /// address once kept the process running.
    @Test func aBridgeDoesNotKeepABrokerThatCannotListenRunning() async throws {
        try await withMosquitto { broker in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("starling-bridge-\(UUID().uuidString).yaml")
            try """
                listeners:
                  default: {host: 127.0.0.1, port: \(broker.port)}
                bridges:
                  cloud:
                    addresses: [mqtt://127.0.0.1:\(broker.port)]
                    topics: [{pattern: "a/#", direction: out}]
                """.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let outcome = try await Self.run(["serve", "--memory", "--config", file.path])
            #expect(outcome.status == 1, "\(outcome.errors)")
            #expect(outcome.errors.hasSuffix("Error: cannot listen on mqtt://127.0.0.1:\(broker.port): Address already in use\n"), "\(outcome.errors)")
        }
    }

    /// `-V5` as well as `-V 5`: the joined form once drew a suggestion of `--id`.
    @Test func aJoinedProtocolVersionIsAccepted() async throws {
        try await withMosquitto { broker in
            let published = try await Self.run(["pub"] + Self.broker(broker) + ["-V5", "-t", "joined", "-m", "x", "-r"])
            #expect(published.status == 0, "\(published.errors)")
            let received = try await Self.run(["sub"] + Self.broker(broker) + ["-Vmqttv5", "-t", "joined", "-C", "1", "-F", "%t %p"])
            #expect(received.output == "joined x\n", "\(received.errors)")
        }
    }

    @Test func timeoutExitsWith27() async throws {
        try await withMosquitto { broker in
            let started = ContinuousClock.now
            let received = try await Self.run(["sub"] + Self.broker(broker) + ["-t", "silence", "-W", "1"])
            #expect(received.status == 27)
            #expect(received.errors == "Timed out\n")
            #expect(received.output.isEmpty)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// The refusal in the words of the version that sent it, each said once.
    @Test(arguments: [
        ("311", Int32(5), "Error: connection refused by the broker: not authorized (return code 5)\n"),
        ("5", 135, "Error: connection refused by the broker: Not authorized (reason code 0x87)\n"),
    ])
    func refusedConnectionExitsWithTheReasonCode(version: String, status: Int32, message: String) async throws {
        try await withMosquitto { broker in
            for command in [["pub", "-t", "t", "-m", "x"], ["sub", "-t", "t"]] {
                let outcome = try await Self.run(
                    [command[0]] + Self.broker(broker, port: broker.authenticatedPort) + ["-V", version] + command.dropFirst())
                #expect(outcome.status == status)
                #expect(outcome.errors == message)
                #expect(outcome.errors.filter { $0 == "\n" }.count == 1)
            }
        }
    }

    @Test func unreachableBrokerExitsWith1() async throws {
        // A port that was merely free a moment ago may have been taken by another test's broker since.
        let reserved = try ReservedPort()
        defer { reserved.release() }
        let port = reserved.port
        let outcome = try await Self.run(["pub", "-h", "127.0.0.1", "-p", "\(port)", "-t", "t", "-m", "x"])
        #expect(outcome.status == 1)
        #expect(outcome.errors == "Error: could not connect to 127.0.0.1:\(port): Connection refused\n")
    }

    @Test func propertiesReachTheSubscriberAndFormatAsJSON() async throws {
        try await withMosquitto { broker in
            let published = try await Self.run(
                ["pub"] + Self.broker(broker)
                    + ["-t", "props/x", "-m", "{\"v\":1}", "-r", "-q", "1", "-D", "publish", "user-property", "k", "v",
                       "-D", "publish", "content-type", "application/json"])
            #expect(published.status == 0, "\(published.errors)")
            let formatted = try await Self.run(["sub"] + Self.broker(broker) + ["-V", "5", "-t", "props/#", "-C", "1", "-F", "%t %C %P %l %%"])
            #expect(formatted.output == "props/x application/json k:v 7 %\n")
            let json = try await Self.run(["sub"] + Self.broker(broker) + ["-V", "5", "-t", "props/#", "-q", "1", "-C", "1", "--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(object["topic"] as? String == "props/x")
            #expect(object["payload"] as? String == "{\"v\":1}")
            #expect(object["retain"] as? Int == 1)
            #expect(object["qos"] as? Int == 1)
        }
    }

    @Test func urlAndFilterOutAndNoStale() async throws {
        try await withMosquitto { broker in
            for (topic, message) in [("f/keep", "kept"), ("f/drop", "dropped")] {
                let published = try await Self.run(["pub", "-L", "mqtt://127.0.0.1:\(broker.port)/\(topic)", "-m", message, "-r"])
                #expect(published.status == 0, "\(published.errors)")
            }
            let filtered = try await Self.run(["sub"] + Self.broker(broker) + ["-t", "f/#", "-T", "f/drop", "-C", "1"])
            #expect(filtered.output == "kept\n")
            // Only retained messages exist, so -R prints nothing before -W ends the wait.
            let fresh = try await Self.run(["sub"] + Self.broker(broker) + ["-t", "f/#", "-R", "-W", "1"])
            #expect(fresh.status == 27 && fresh.output.isEmpty)
        }
    }

    @Test func helpIsLongOnlyBecauseDashHIsTheHost() async throws {
        for command in ["pub", "sub"] {
            let help = try await Self.run([command, "--help"])
            #expect(help.status == 0)
            #expect(help.output.contains("-h, --host"))
            #expect(help.output.contains("Exit status"))
        }
        let usage = try await Self.run(["pub", "-t", "t"])
        #expect(usage.status == 64)
    }
}
