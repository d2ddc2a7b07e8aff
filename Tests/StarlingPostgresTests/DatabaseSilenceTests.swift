@testable import StarlingCluster
import Testing

struct DatabaseSilenceTests {
    /// A query that ignores its cancellation, as one on a connection left from before a database restart does,
    /// does not keep the caller: the answer is `DatabaseSilence` once the limit passes.
    @Test(.timeLimit(.minutes(1)))
    func aQueryThatNeverAnswersDoesNotKeepTheCaller() async throws {
        await #expect(throws: DatabaseSilence.self) {
            try await DatabaseSilence.answer(within: .milliseconds(100)) {
                // Deaf to cancellation, and never resumed.
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
                return 0
            }
        }
    }

    /// Without a limit, a query may take its time, but a caller that is cancelled (a node told to stop) is not
    /// held by one deaf to it.
    @Test(.timeLimit(.minutes(1)))
    func aCancelledCallerIsNotHeldByAQueryWithoutALimit() async throws {
        let started = AsyncStream<Void>.makeStream()
        let caller = Task {
            try await DatabaseSilence.answer(within: nil) {
                started.continuation.yield()
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
                return 0
            }
        }
        for await _ in started.stream { break }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }

    @Test func anAnswerWithinTheLimitIsReturned() async throws {
        #expect(try await DatabaseSilence.answer(within: .seconds(30)) { 7 } == 7)
    }
}
