import NIOCore
import StarlingClient
import StarlingTestSupport
import Testing

struct ReconnectPolicyTests {
    @Test func delaysGrowExponentiallyUpToTheMaximum() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), multiplier: 2, jitter: 0)
        let delays = (1...6).map { policy.delay(beforeAttempt: $0).nanoseconds / 1_000_000 }
        #expect(delays == [100, 200, 400, 800, 1000, 1000])
    }

    @Test func jitterStaysWithinItsFraction() {
        let policy = ReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60), multiplier: 2, jitter: 0.25)
        var generator = SeededGenerator(state: 42)
        var distinct = Set<Int64>()
        for _ in 0..<200 {
            let delay = policy.delay(beforeAttempt: 3, using: &generator).nanoseconds
            #expect(delay >= 3_000_000_000 && delay <= 5_000_000_000)
            distinct.insert(delay)
        }
        #expect(distinct.count > 100)
    }

    @Test func attemptLimit() {
        let limited = ReconnectPolicy(maximumAttempts: 3)
        #expect(limited.allowsAttempt(after: 2))
        #expect(!limited.allowsAttempt(after: 3))
        #expect(ReconnectPolicy.exponentialBackoff.allowsAttempt(after: 1_000))
        #expect(!ReconnectPolicy.disabled.allowsAttempt(after: 0))
    }
}
