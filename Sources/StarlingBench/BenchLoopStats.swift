import Histogram
import NIOCore

/// The counters of every connection on one event loop of the load generator: messages sent and acknowledged,
/// first deliveries, their latency and a per-second timeline. Connections on the same loop share one, so the
/// hot path adds to plain integers and a histogram with no locks, and the runner reads one object per loop.
final class BenchLoopStats: @unchecked Sendable {
    // Sendable proof: mutated only by the connections of `eventLoop`, on that loop; the runner reads it through
    // tasks submitted to the same loop.
    let eventLoop: any EventLoop
    /// Monotonic time (ns) at which the run's timeline starts; the same for every loop.
    let origin: UInt64
    private(set) var sent = 0
    private(set) var acknowledged = 0
    private(set) var delivered = 0
    private(set) var duplicates = 0
    /// Publishers on this loop that are done: stopped and acknowledged, or disconnected.
    private(set) var publishersDone = 0
    private(set) var lastSentAt: UInt64 = 0
    private(set) var lastAcknowledgedAt: UInt64 = 0
    private(set) var lastDeliveredAt: UInt64 = 0
    private(set) var latency = BenchLoopStats.makeHistogram()
    private(set) var timeline = BenchTimeline()

    init(eventLoop: any EventLoop, origin: UInt64) {
        self.eventLoop = eventLoop
        self.origin = origin
    }

    static func makeHistogram() -> Histogram<UInt64> {
        // Nanoseconds up to an hour, three significant digits; resized if a value goes beyond.
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    func recordSent(_ count: Int = 1, at now: UInt64) {
        sent += count
        lastSentAt = now
        timeline.add(sent: count, at: now &- origin)
    }

    func recordAcknowledged(at now: UInt64) {
        acknowledged += 1
        lastAcknowledgedAt = now
    }

    func recordPublisherDone() {
        publishersDone += 1
    }

    func recordDelivery(_ outcome: DeliveryTracker.Outcome, sentAt: UInt64, at now: UInt64) {
        switch outcome {
        case .first:
            delivered += 1
            lastDeliveredAt = now
            timeline.add(delivered: 1, at: now &- origin)
            _ = latency.record(now > sentAt ? now - sentAt : 0)
        case .duplicate:
            duplicates += 1
        case .foreign:
            break
        }
    }
}

/// Messages sent and delivered in each second of a run.
public struct BenchTimeline: Sendable, Codable, Equatable {
    public private(set) var sent: [Int] = []
    public private(set) var delivered: [Int] = []

    public init(sent: [Int] = [], delivered: [Int] = []) {
        self.sent = sent
        self.delivered = delivered
    }

    mutating func add(sent count: Int = 0, delivered deliveredCount: Int = 0, at elapsed: UInt64) {
        let second = Int(elapsed / 1_000_000_000)
        if second >= sent.count {
            let n = second + 1 - sent.count
            sent.append(contentsOf: repeatElement(0, count: n))
            delivered.append(contentsOf: repeatElement(0, count: n))
        }
        sent[second] += count
        delivered[second] += deliveredCount
    }

    mutating func merge(_ other: BenchTimeline) {
        for (second, count) in other.sent.enumerated() { add(sent: count, delivered: other.delivered[second], at: UInt64(second) * 1_000_000_000) }
    }
}
