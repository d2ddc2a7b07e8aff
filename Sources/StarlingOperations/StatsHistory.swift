import Foundation
import NIOConcurrencyHelpers

/// The counters sampled every few seconds over the last minutes, for the dashboard's charts.
final class StatsHistory: Sendable {
    private let samples = NIOLockedValueBox<[StatsSample]>([])
    let length: Int

    init(length: Int) {
        self.length = max(1, length)
    }

    func append(_ sample: StatsSample) {
        samples.withLockedValue { samples in
            samples.append(sample)
            if samples.count > length { samples.removeFirst(samples.count - length) }
        }
    }

    var all: [StatsSample] {
        samples.withLockedValue { $0 }
    }
}
