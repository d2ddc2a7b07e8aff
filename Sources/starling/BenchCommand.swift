import ArgumentParser
import Foundation
import MQTT
import NIOCore
import StarlingBench

/// `starling bench`: a load generator for MQTT brokers.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a broker: publishers and subscribers on loopback, with loss, duplicate and latency counts."
    )

    @Argument(help: "Scenario: \(BenchOptions.Scenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario: String = "fanin"

    @Option(name: [.customShort("h"), .long], help: "Broker host.")
    var host = "127.0.0.1"

    @Option(name: [.customShort("p"), .long], help: "Broker port.")
    var port = 1883

    @Option(name: [.customShort("V"), .long], help: "MQTT version: 311 or 5.")
    var mqttVersion = "311"

    @Option(name: [.customShort("q"), .long], help: "QoS of every message.")
    var qos = 0

    @Option(name: [.customShort("P"), .long], help: "Publishers (fanin, pairs).")
    var publishers = 10

    @Option(name: [.customShort("S"), .long], help: "Subscribers (fanout).")
    var subscribers = 100

    @Option(name: [.customShort("n"), .long], help: "Messages each publisher sends.")
    var count = 100_000

    @Option(name: [.customShort("s"), .long], help: "Payload size in bytes (at least 20).")
    var size = 64

    @Option(name: .long, help: "QoS 1/2 messages in flight per publisher.")
    var inflight = 64

    @Option(name: .long, help: "Seconds after which the run stops with what arrived.")
    var timeout = 60

    @Option(name: .long, help: "Event loop threads of the load generator.")
    var threads = 1

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        guard let scenario = BenchOptions.Scenario(rawValue: scenario) else {
            throw ValidationError("unknown scenario '\(scenario)'")
        }
        guard let qos = QoS(rawValue: UInt8(clamping: qos)) else { throw ValidationError("QoS must be 0, 1 or 2") }
        var options = BenchOptions()
        options.scenario = scenario
        options.host = host
        options.port = port
        options.version = ["5", "mqttv5"].contains(mqttVersion) ? .v5 : .v3_1_1
        options.qos = qos
        options.publishers = publishers
        options.subscribers = subscribers
        options.messagesPerPublisher = count
        options.payloadSize = size
        options.inflight = inflight
        options.timeout = .seconds(Int64(timeout))
        options.threads = threads
        let result = try await BenchRunner.run(options)
        if json {
            print(
                "{\"scenario\":\"\(scenario.rawValue)\",\"qos\":\(qos.rawValue),\"expected\":\(result.expected),\"delivered\":\(result.delivered),"
                    + "\"lost\":\(result.lost),\"duplicates\":\(result.duplicates),\"out_of_order\":\(result.outOfOrder),"
                    + "\"seconds\":\(result.seconds),\"rate\":\(Int(result.rate)),\"latency_us\":{\"p50\":\(result.latencyMicroseconds.p50),"
                    + "\"p99\":\(result.latencyMicroseconds.p99),\"max\":\(result.latencyMicroseconds.max)}}")
        } else {
            print(String(format: "%@ qos%d: %d/%d delivered (%d lost, %d duplicated, %d out of order) in %.3f s = %.0f msg/s; latency p50 %.0f us, p99 %.0f us",
                scenario.rawValue, Int(qos.rawValue), result.delivered, result.expected, result.lost, result.duplicates, result.outOfOrder,
                result.seconds, result.rate, result.latencyMicroseconds.p50, result.latencyMicroseconds.p99))
        }
        if result.lost > 0 || result.duplicates > 0 { throw ExitCode(3) }
    }
}
