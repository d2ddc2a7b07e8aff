import CoreMetrics
import Prometheus

/// The Prometheus registry `GET /metrics` renders, and the swift-metrics factory that records into it: give
/// `factory` to the broker (`BrokerHooks.metrics`) for its latency histograms, and to `MetricsSystem.bootstrap`
/// if the rest of the process should report there too.
public struct OperationsMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Deliveries take microseconds, commits milliseconds: the default buckets start at 5 ms.
        factory.durationHistogramBuckets["starling_delivery_duration_seconds"] = [
            .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
            .milliseconds(250), .seconds(1), .seconds(5),
        ]
        factory.durationHistogramBuckets["starling_store_commit_duration_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ]
        self.factory = factory
    }
}
