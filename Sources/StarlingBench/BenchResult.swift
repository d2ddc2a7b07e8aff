import Histogram

/// What a run measured.
public struct BenchResult: Sendable, Codable {
    public struct Latency: Sendable, Codable, Equatable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public var mean: Double
        /// (percentile, microseconds) points of the distribution, for charting.
        public var distribution: [Point]

        public struct Point: Sendable, Codable, Equatable {
            public var percentile: Double
            public var microseconds: Double
        }

        public static let empty = Latency(p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, distribution: [])
    }

    public struct Connections: Sendable, Codable, Equatable {
        public var attempted: Int
        public var connected: Int
        public var failed: Int
        /// From the first attempt until the last connection was ready.
        public var seconds: Double
        public var perSecond: Double { seconds > 0 ? Double(connected) / seconds : 0 }
        /// The broker's resident memory before connecting and with every connection up, if its process was given.
        public var brokerBytesBefore: Int?
        public var brokerBytesAfter: Int?
        public var brokerBytesPerConnection: Double? {
            guard let before = brokerBytesBefore, let after = brokerBytesAfter, connected > 0 else { return nil }
            return Double(after - before) / Double(connected)
        }
        /// CPU used while connecting (`conn` only): what a connection costs each side.
        public var cpu: CPU?

        /// CPU microseconds per connection made: the load generator's, and the broker's if its process was given.
        public var cpuMicrosecondsPerConnection: (generator: Double, broker: Double?)? {
            guard let cpu, connected > 0 else { return nil }
            let perConnection = { (percent: Double) in percent / 100 * seconds / Double(connected) * 1e6 }
            return (perConnection(cpu.generatorPercent), cpu.brokerPercent.map(perConnection))
        }
    }

    /// CPU used while publishing and draining, in percent of one core: the load generator's (all its threads)
    /// and the broker's, if its process was given. A side near 100 % per thread was the bottleneck.
    public struct CPU: Sendable, Codable, Equatable {
        public var generatorPercent: Double
        public var brokerPercent: Double?
    }

    public var scenario: BenchOptions.Scenario
    public var qos: Int
    public var payloadSize: Int
    public var publishers: Int
    public var subscribers: Int
    public var connections: Connections
    /// Messages the publishers sent, and acknowledgements they received for them (QoS 1/2).
    public var sent: Int
    public var acknowledged: Int
    /// Deliveries owed to the subscribers for what was sent; nil when the run cannot know (`sub`).
    public var expected: Int?
    public var delivered: Int
    public var duplicates: Int
    public var outOfOrder: Int
    /// Messages without a benchmark header, not counted as deliveries.
    public var foreign: Int
    /// From the start of publishing to the last delivery (or last acknowledgement when nothing subscribes).
    public var seconds: Double
    public var latency: Latency
    public var timeline: BenchTimeline
    public var cpu: CPU?

    public var lost: Int { expected.map { Swift.max(0, $0 - delivered) } ?? 0 }
    /// Deliveries per second, or messages taken in per second when nothing subscribes.
    public var rate: Double {
        guard seconds > 0 else { return 0 }
        return Double(subscribers > 0 ? delivered : (qos > 0 ? acknowledged : sent)) / seconds
    }
    public var sendRate: Double { seconds > 0 ? Double(sent) / seconds : 0 }
}

extension BenchResult.Latency {
    /// Percentiles of a histogram of nanoseconds, in microseconds.
    init(_ histogram: Histogram<UInt64>) {
        guard histogram.totalCount > 0 else {
            self = .empty
            return
        }
        func us(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1_000 }
        let points: [Double] = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100]
        self.init(
            p50: us(50), p90: us(90), p99: us(99), p999: us(99.9), max: Double(histogram.max) / 1_000, mean: histogram.mean / 1_000,
            distribution: points.map { .init(percentile: $0, microseconds: us($0)) })
    }
}
