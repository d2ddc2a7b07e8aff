import MQTT
import NIOCore
import NIOSSL

/// A benchmark scenario and its parameters.
public struct BenchOptions: Sendable {
    public enum Scenario: String, Sendable, CaseIterable, Codable {
        /// Open N connections at a rate and hold them.
        case conn
        /// P publishers, no subscriber: the rate at which the broker takes messages in.
        case pub
        /// S subscribers counting whatever arrives for the duration.
        case sub
        /// P publishers on their own topics, one subscriber on a wildcard.
        case fanin
        /// P publisher/subscriber pairs, each on its own topic.
        case pairs
        /// One publisher, S subscribers on one topic.
        case fanout
        /// One publisher at a fixed rate, one subscriber: percentiles of end-to-end latency.
        case latency
        /// P publishers into one `$share` group of S members.
        case sharedsub
    }

    public var scenario: Scenario = .fanin
    public var host = "127.0.0.1"
    public var port = 1883
    /// More brokers (the nodes of a cluster, say) beside `host` and `port`: publisher i connects to broker
    /// i mod N and subscriber j to broker N - 1 - (j mod N), counting `host` as broker 0, so that with two brokers
    /// one publisher and one subscriber are on different ones.
    public var moreBrokers: [(host: String, port: Int)] = []
    /// With `moreBrokers`, how long subscriptions get to reach the other brokers before publishing starts.
    public var routesSettle: Duration = .milliseconds(1_500)
    /// TLS for every connection, or nil for plain TCP.
    public var tls: TLSConfiguration?
    public var version: ProtocolVersion = .v3_1_1
    public var qos: QoS = .atMostOnce
    public var publishers = 10
    public var subscribers = 1
    /// Connections of the `conn` scenario.
    public var connections = 1000
    /// Messages each publisher sends; nil to publish until `duration` ends.
    public var messagesPerPublisher: Int? = 100_000
    /// How long publishers publish (and `sub` and `conn` hold); nil for no limit but the count.
    public var duration: TimeAmount?
    /// Messages per second across all publishers, or connections per second for `conn`; nil for as fast as
    /// the socket and the inflight window allow.
    public var rate: Double?
    public var payloadSize = 64
    public var inflight = 64
    /// User name and password every connection gives in CONNECT.
    public var userName: String?
    public var password: String?
    /// Keep alive of every connection, in seconds; each pings at half of it. 0 turns keep alive off.
    public var keepAlive: UInt16 = 600
    /// Client identifiers; `%i` is replaced by the connection's index.
    public var clientIdentifier = "bench-%r-%i"
    /// Publishers' topics, `%i` being the publisher's index; nil for the scenario's default.
    public var topic: String?
    /// Subscribers' filters, `%i` being the subscriber's index; nil for the scenario's default.
    public var filter: String?
    /// Share name of the `sharedsub` scenario.
    public var shareName = "bench"
    /// How long to wait for messages still in flight once the publishers are done.
    public var drain: TimeAmount = .seconds(10)
    /// Stop everything after this long, whatever is left.
    public var timeout: TimeAmount = .seconds(300)
    /// Connection attempts under way at once while connecting.
    public var connectConcurrency = 64
    /// Local addresses 127.0.0.1 … 127.0.0.N used in turn as connections' source, so that many connections
    /// to one port do not run out of ephemeral ports; 0 lets the system choose.
    public var sourceAddresses = 0
    /// A broker process whose resident memory is read before connecting and once every connection is up.
    public var brokerProcessIdentifier: Int?
    public var threads = 1
    /// The largest read of a connection, in bytes: a flooded subscriber (unpaced QoS 0) counts more messages
    /// per system call with larger reads.
    public var readBuffer = 64 * 1024

    public init() {}

    /// The scenario's publishers' topic pattern.
    var publisherTopic: String {
        if let topic { return topic }
        switch scenario {
        case .fanin: return "bench/fanin/%i"
        case .pairs: return "bench/pairs/%i"
        case .fanout: return "bench/fanout"
        case .latency: return "bench/latency"
        case .sharedsub: return "bench/shared"
        case .pub, .sub, .conn: return "bench/%i"
        }
    }

    /// The scenario's subscribers' filter pattern.
    var subscriberFilter: String {
        if let filter { return filter }
        switch scenario {
        case .fanin: return "bench/fanin/+"
        case .pairs: return "bench/pairs/%i"
        case .fanout: return "bench/fanout"
        case .latency: return "bench/latency"
        case .sharedsub: return "$share/\(shareName)/bench/shared"
        case .pub, .sub, .conn: return "bench/#"
        }
    }
}

/// Replaces `%i` with a connection's index and `%r` with a run tag, so one pattern names many clients or topics.
func expand(_ pattern: String, index: Int, run: String = "") -> String {
    guard pattern.contains("%") else { return pattern }
    var result = ""
    var escaped = false
    for character in pattern {
        if escaped {
            switch character {
            case "i": result += String(index)
            case "r": result += run
            default: result += "%" + String(character)
            }
            escaped = false
        } else if character == "%" {
            escaped = true
        } else {
            result.append(character)
        }
    }
    if escaped { result += "%" }
    return result
}
