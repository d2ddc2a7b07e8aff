import Benchmark
import BrokerFixtures
import MQTT
@_spi(Benchmarks) import StarlingBroker

/// The broker's hot structures: the publish path from a PUBLISH's bytes to the bytes written to each subscriber,
/// a connection's whole life, and matching a topic against 100,000 subscriptions with wildcards.
///
/// The publish path runs the broker's own connection handlers on `EmbeddedChannel`s: decode, route, encode,
/// write, with no socket. Every benchmark runs its body a thousand times per iteration (`.kilo` scaling); the
/// framework reports each metric per message: throughput, and malloc calls per message (for the publish path to
/// 100 subscribers, per message, not per delivery: divide by 100).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 20
    )

    for subscribers in [1, 100] {
        for qos in [QoS.atMostOnce, .atLeastOnce] {
            Benchmark("Publish path, QoS \(qos.rawValue), to \(subscribers) subscriber\(subscribers == 1 ? "" : "s")") { benchmark in
                let path = try PublishPath(subscribers: subscribers, qos: qos)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(try path.publishOnce())
                }
                // Before the channels are let go of, which the closure's end would count.
                benchmark.stopMeasurement()
            }
        }
    }

    Benchmark("Connection, CONNECT to CONNACK to DISCONNECT (per connection, embedded channel included)") { benchmark in
        let path = ConnectPath()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try path.connectOnce()
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Topic matching, 100,000 subscriptions with wildcards") { benchmark in
        var tree = try TopicMatchingProbe(filters: TopicMatchingFixture.filters)
        let topics = TopicMatchingFixture.topics
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(tree.match(topics[index % topics.count]))
        }
        // Before the 100,000 subscriptions are let go of, which the closure's end would count.
        benchmark.stopMeasurement()
    }
}
