#if os(Linux)
@_spi(Benchmarks) @testable import StarlingBroker
import Testing

/// What a subscription and a retained message cost in heap bytes, by glibc's statistics, so that a change cannot
/// grow them unnoticed: the bounds are the figures measured when they were set (in the comments) with some
/// headroom. Raise one only knowingly. Other tests running at the same time allocate too, so each figure is the
/// smallest of three measurements. Bytes, not time.
@Suite(.serialized) struct StateFootprintTests {
    private static func smallest(_ measure: () throws -> Double) rethrows -> Double {
        try (0..<3).map { _ in try measure() }.min()!
    }

    /// 20,000 wildcard-free filters on one session: the session's record and the table's entry.
    @Test func anExactSubscription() throws {
        let bytes = try Self.smallest {
            try StateFootprintProbe.bytesPerSubscription(clients: 1, filtersPerClient: 20_000) { _, index in "s/\(index + 1_000_000)" }
        }
        #expect(bytes <= 130, "measured 106; \(bytes) bytes per subscription")
    }

    /// 20,000 filters `w/…/+` on one session: two levels of the tree each besides the session's record.
    @Test func aWildcardSubscription() throws {
        let bytes = try Self.smallest {
            try StateFootprintProbe.bytesPerSubscription(clients: 1, filtersPerClient: 20_000) { _, index in "w/\(index + 1_000_000)/+" }
        }
        #expect(bytes <= 310, "measured 266; \(bytes) bytes per subscription")
    }

    /// 2,000 sessions with 10 filters each: each session's own table of records.
    @Test func subscriptionsOfManySessions() throws {
        let bytes = try Self.smallest {
            try StateFootprintProbe.bytesPerSubscription(clients: 2_000, filtersPerClient: 10) { client, index in "c/\(client + 100_000)/\(index)" }
        }
        #expect(bytes <= 140, "measured 113; \(bytes) bytes per subscription")
    }

    /// 20,000 retained messages of 32 bytes, each arrived in a large read buffer.
    @Test func aRetainedMessage() {
        let bytes = Self.smallest { StateFootprintProbe.bytesPerRetainedMessage(count: 20_000) }
        #expect(bytes <= 185, "measured 152; \(bytes) bytes per retained message")
    }
}
#endif
