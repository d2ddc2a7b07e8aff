import NIOCore
@testable import StarlingBroker
import StarlingTesting
import Testing

/// After a wave of connections the broker gives the memory they freed back to the system, once the wave has
/// passed; while connections keep coming it waits.
@Suite struct FreedMemoryReturnTests {
    @Test(.enabled(if: FreedMemoryReturner.isAvailable, "only glibc's allocator is asked to give memory back"))
    func freedMemoryIsReturnedOnceAWaveOfConnectionsHasPassed() async throws {
        try await TestBroker.with({
            $0.limits.freedMemoryReturn = FreedMemoryReturn(interval: .milliseconds(100), afterConnections: 20)
        }) { broker in
            #expect(try await broker.broker.statistics().freedMemoryReturns == 0)
            for _ in 0..<20 { await (try await broker.open()).drop() }
            try await broker.waitForStatistics("memory returned") { $0.freedMemoryReturns > 0 }
            // Given back once for the wave, not again while nothing new comes.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await broker.broker.statistics().freedMemoryReturns == 1)
        }
    }

    @Test func fewConnectionsDoNotCauseAReturn() async throws {
        try await TestBroker.with({
            $0.limits.freedMemoryReturn = FreedMemoryReturn(interval: .milliseconds(100), afterConnections: 20)
        }) { broker in
            for _ in 0..<19 { await (try await broker.open()).drop() }
            // Five intervals at least: a return would have come by then.
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await broker.broker.statistics().freedMemoryReturns == 0)
        }
    }
}
