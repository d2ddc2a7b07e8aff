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

    @Test func anAnswerWithinTheLimitIsReturned() async throws {
        #expect(try await DatabaseSilence.answer(within: .seconds(30)) { 7 } == 7)
    }
}
