@testable import StarlingPostgres
import Testing

/// The race between a commit's transaction and its limits, without a database.
@Suite struct CommitOutcomeTests {
    struct Refused: Error {}

    @Test func aTransactionThatEndsFirstDecides() async {
        let outcome = CommitOutcome()
        #expect(outcome.begin())
        outcome.finish(nil)
        #expect(!outcome.abandon(evenBegun: true))
        #expect(await outcome.result() == nil)
    }

    @Test func aFailureBeforeTheLimitIsTheCommitsFailure() async {
        let outcome = CommitOutcome()
        outcome.finish(Refused())
        #expect(!outcome.abandon())
        #expect(await outcome.result() is Refused)
    }

    /// The first limit abandons a transaction still waiting for a connection, and one that gets a connection
    /// afterwards must not begin.
    @Test func aTransactionNotBegunByTheFirstLimitIsAbandoned() async {
        let outcome = CommitOutcome()
        #expect(outcome.abandon())
        #expect(!outcome.begin())
        outcome.finish(Refused())
        #expect(await outcome.result() is CommitOutcome.ConnectionWaitExceeded)
    }

    /// A transaction under way is left to the second limit.
    @Test func aTransactionUnderWayIsAbandonedOnlyByTheSecondLimit() async {
        let outcome = CommitOutcome()
        #expect(outcome.begin())
        #expect(!outcome.abandon())
        #expect(outcome.abandon(evenBegun: true))
        outcome.finish(nil)
        #expect(await outcome.result() is CommitOutcome.ConnectionWaitExceeded)
    }

    /// Whoever waits for the result when it is decided gets it.
    @Test func aWaiterHearsTheDecision() async {
        let outcome = CommitOutcome()
        async let result = outcome.result()
        // Decided from another task, whether or not the waiter is waiting yet: either way it hears.
        Task { _ = outcome.abandon() }
        #expect(await result is CommitOutcome.ConnectionWaitExceeded)
    }
}
