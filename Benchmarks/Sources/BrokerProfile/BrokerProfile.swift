import BrokerFixtures
import Glibc
import MQTT
@_spi(Benchmarks) import StarlingBroker

/// Runs the publish path or topic matching in a loop, for a profiler to look at (heaptrack for where the
/// allocations come from, callgrind for instructions):
///
///     BrokerProfile publish QOS SUBSCRIBERS [MESSAGES]
///     BrokerProfile payload SIZE SUBSCRIBERS [MESSAGES]   QoS 0 of SIZE bytes, in reads of 64 KiB that cut packets
///     BrokerProfile match [LOOKUPS]
///     BrokerProfile connect [CONNECTIONS]    each opened (CONNECT, CONNACK) and closed (DISCONNECT)
///     BrokerProfile idle [CONNECTIONS]       opened and held: prints the resident bytes each adds
///     BrokerProfile state subs|wild|clients|retained [N]
///                                            heap bytes per subscription (N filters s/…, or w/…/+, on one
///                                            session; or N sessions with 10 filters each) or per retained message
///
/// It prints the time per message as a rough figure; under a profiler the counts are what matters.
@main
enum BrokerProfile {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let clock = ContinuousClock()
        let start: ContinuousClock.Instant
        let iterations: Int
        switch arguments.first {
        case "publish":
            guard arguments.count >= 3, let level = UInt8(arguments[1]), let qos = QoS(rawValue: level), let subscribers = Int(arguments[2]) else {
                return usage()
            }
            iterations = arguments.count > 3 ? Int(arguments[3]) ?? 100_000 : 100_000
            let path = try PublishPath(subscribers: subscribers, qos: qos)
            start = clock.now
            for _ in 0..<iterations { _ = try path.publishOnce() }
        case "payload":
            guard arguments.count >= 3, let size = Int(arguments[1]), let subscribers = Int(arguments[2]) else { return usage() }
            let path = try PublishPath(subscribers: subscribers, qos: .atMostOnce, payloadSize: size)
            let rounds = max(1, (arguments.count > 3 ? Int(arguments[3]) ?? 10_000 : 10_000) / path.messagesPerRound)
            iterations = rounds * path.messagesPerRound
            start = clock.now
            for _ in 0..<rounds { _ = try path.publishRound() }
        case "match":
            iterations = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
            var tree = try TopicMatchingProbe(filters: TopicMatchingFixture.filters)
            let topics = TopicMatchingFixture.topics
            start = clock.now
            for index in 0..<iterations { _ = tree.match(topics[index % topics.count]) }
        case "connect":
            iterations = arguments.count > 1 ? Int(arguments[1]) ?? 10_000 : 10_000
            let path = ConnectPath()
            start = clock.now
            for _ in 0..<iterations { try path.connectOnce() }
        case "idle":
            iterations = arguments.count > 1 ? Int(arguments[1]) ?? 10_000 : 10_000
            let path = ConnectPath()
            // The first connections make what every later one shares (the loop's tables, buffer pools).
            var held = try (0..<100).map { _ in try path.open() }
            let before = residentBytes()
            start = clock.now
            for _ in 0..<iterations { held.append(try path.open()) }
            let perConnection = Double(residentBytes() - before) / Double(iterations)
            print("idle: \(Int(perConnection.rounded())) resident bytes per connection, the embedded channel's included (\(held.count) held)")
        case "state":
            return try state(arguments.dropFirst())
        default:
            return usage()
        }
        let elapsed = clock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("\(arguments.joined(separator: " ")): \(Int((nanoseconds / Double(iterations)).rounded())) ns/message")
    }

    static func usage() {
        print(
            "usage: BrokerProfile publish QOS SUBSCRIBERS [MESSAGES] | payload SIZE SUBSCRIBERS [MESSAGES] | match [LOOKUPS] | connect [CONNECTIONS] | idle [CONNECTIONS]"
                + " | state subs|wild|clients|retained [N]")
    }

    /// Heap bytes (glibc's statistics, not resident pages) that each subscription or retained message adds.
    static func state(_ arguments: ArraySlice<String>) throws {
        let count = arguments.count > 1 ? Int(arguments[arguments.startIndex + 1]) ?? 100_000 : 100_000
        let bytes: Double
        switch arguments.first {
        case "subs":
            bytes = try StateFootprintProbe.bytesPerSubscription(clients: 1, filtersPerClient: count) { _, index in "s/\(index + 1_000_000)" }
        case "wild":
            bytes = try StateFootprintProbe.bytesPerSubscription(clients: 1, filtersPerClient: count) { _, index in "w/\(index + 1_000_000)/+" }
        case "clients":
            bytes = try StateFootprintProbe.bytesPerSubscription(clients: count, filtersPerClient: 10) { client, index in
                "c/\(client + 100_000)/\(index)"
            }
        case "retained":
            bytes = StateFootprintProbe.bytesPerRetainedMessage(count: count)
        default:
            return usage()
        }
        print("state \(arguments.joined(separator: " ")): \(Int(bytes.rounded())) heap bytes per \(arguments.first == "retained" ? "retained message" : "subscription")")
    }

    /// The process's resident bytes, from /proc/self/statm (Linux).
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        guard withUnsafeMutablePointer(to: &size, { size in
            withUnsafeMutablePointer(to: &resident) { resident in
                withVaList([size, resident]) { vfscanf(file, "%ld %ld", $0) }
            }
        }) == 2 else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
