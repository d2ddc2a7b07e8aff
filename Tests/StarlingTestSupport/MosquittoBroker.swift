import Foundation
import NIOCore
import NIOPosix

/// A mosquitto broker for one test, on free 127.0.0.1 ports: plain MQTT, MQTT over WebSocket, a listener that
/// refuses anonymous clients and, when asked, TLS with and without client certificates.
public final class MosquittoBroker {
    public static let executable = "/usr/sbin/mosquitto"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    public let directory: URL
    public private(set) var port = 0
    public private(set) var webSocketPort = 0
    /// Refuses clients without a user name (CONNACK 5 / 0x87).
    public private(set) var authenticatedPort = 0
    public private(set) var tlsPort: Int?
    public private(set) var mutualTLSPort: Int?
    public private(set) var secureWebSocketPort: Int?
    public let certificates: TestCertificates?
    private let persistence: Bool
    private var process: ChildProcess?

    /// Starts mosquitto. `persistence` keeps sessions across `restart()`, as a broker with a database would.
    public init(persistence: Bool = false, tls: Bool = false) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-mosquitto-\(UUID().uuidString)")
        // Started as root, mosquitto runs as the user mosquitto, which must be able to write its database here.
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        try "".write(to: directory.appendingPathComponent("passwords"), atomically: true, encoding: .utf8)
        self.persistence = persistence
        certificates = tls ? try TestCertificates.get() : nil
        // Another test may take a port between its release here and mosquitto's bind: then choose again.
        for attempt in 1...5 {
            let ports = try await Self.freePorts(tls ? 6 : 3)
            port = ports[0]
            webSocketPort = ports[1]
            authenticatedPort = ports[2]
            tlsPort = tls ? ports[3] : nil
            mutualTLSPort = tls ? ports[4] : nil
            secureWebSocketPort = tls ? ports[5] : nil
            try writeConfiguration()
            do {
                try await start()
                return
            } catch let error as BrokerFailed where attempt < 5 && error.lostPortRace {
                continue
            }
        }
    }

    private func writeConfiguration() throws {
        var config = """
            per_listener_settings true
            persistence \(persistence)
            persistence_location \(directory.path)/
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            log_type information
            listener \(port) 127.0.0.1
            allow_anonymous true
            listener \(webSocketPort) 127.0.0.1
            protocol websockets
            allow_anonymous true
            listener \(authenticatedPort) 127.0.0.1
            allow_anonymous false
            password_file \(directory.path)/passwords

            """
        if let certificates, let tlsPort, let mutualTLSPort, let secureWebSocketPort {
            config += """
                listener \(tlsPort) 127.0.0.1
                allow_anonymous true
                cafile \(certificates.caCertificate)
                certfile \(certificates.serverCertificate)
                keyfile \(certificates.serverKey)
                listener \(mutualTLSPort) 127.0.0.1
                allow_anonymous true
                cafile \(certificates.caCertificate)
                certfile \(certificates.serverCertificate)
                keyfile \(certificates.serverKey)
                require_certificate true
                listener \(secureWebSocketPort) 127.0.0.1
                protocol websockets
                allow_anonymous true
                cafile \(certificates.caCertificate)
                certfile \(certificates.serverCertificate)
                keyfile \(certificates.serverKey)

                """
        }
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
    }

    deinit {
        // A test that forgot `stop()` still ends its broker.
        if let process { process.signal(SIGTERM) }
        try? FileManager.default.removeItem(at: directory)
    }

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts the process and returns once mosquitto reports that it is running.
    public func start() async throws {
        // `timeout` ends the broker even if the test process dies without stopping it.
        let process = try ChildProcess(
            "/usr/bin/timeout", ["120", Self.executable, "-c", directory.appendingPathComponent("mosquitto.conf").path])
        self.process = process
        let log = await ChildProcess.read(process.standardError, until: " running")
        guard log.contains(" running") else {
            self.process = nil
            _ = await process.exitStatus()
            throw BrokerFailed(log: log)
        }
        // Keep draining the log so that mosquitto never blocks on a full pipe.
        let errors = process.standardError
        Thread.detachNewThread { _ = try? errors.readToEnd() }
    }

    /// Stops the process (SIGTERM, which lets mosquitto save its database) and waits for it to exit.
    public func stop() async {
        guard let process else { return }
        self.process = nil
        process.signal(SIGTERM)
        _ = await process.exitStatus()
    }

    /// `stop()` then `start()`: sessions survive only with `persistence`.
    public func restart() async throws {
        await stop()
        try await start()
    }

    public struct BrokerFailed: Error, CustomStringConvertible {
        public var log: String

        public init(log: String) {
            self.log = log
        }

        var lostPortRace: Bool { log.contains("Address already in use") || log.contains("Unable to create websockets listener") }
        public var description: String { "mosquitto did not start:\n\(log)" }
    }

    /// Distinct ports nothing listens on right now, below the range the kernel hands out to outgoing connections
    /// (so that no client of a test running alongside takes one): all held at once, then released for mosquitto.
    public static func freePorts(_ count: Int) async throws -> [Int] {
        var channels: [any Channel] = []
        while channels.count < count {
            let candidate = Int.random(in: 20_000..<32_000)
            guard let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: candidate).get()
            else { continue }
            channels.append(channel)
        }
        let ports = channels.map { $0.localAddress!.port! }
        for channel in channels { try await channel.close() }
        return ports
    }
}

/// Runs `body` with a fresh broker and stops the broker afterwards, whatever `body` does.
public func withMosquitto<Value>(
    persistence: Bool = false, tls: Bool = false, isolation: isolated (any Actor)? = #isolation,
    _ body: (MosquittoBroker) async throws -> Value
) async throws -> Value {
    let broker = try await MosquittoBroker(persistence: persistence, tls: tls)
    do {
        let value = try await body(broker)
        await broker.stop()
        return value
    } catch {
        await broker.stop()
        throw error
    }
}
