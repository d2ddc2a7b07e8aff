@testable import StarlingCluster
import Testing

struct DatabaseSilenceTests {
    /// A query that ignores its cancellation, as one on a connection left from before a database restart does,
    /// does not keep the caller: the answer is `DatabaseSilence` once the limit passes.
    @Test(.timeLimit(.minutes(1)))
    func aQueryThatNeverAnswersDoesNotKeepTheCaller() async throws {
        let deaf = DeafQuery()
        await #expect(throws: DatabaseSilence.self) {
            try await DatabaseSilence.answer(within: .milliseconds(100)) { await deaf.wait() }
        }
        deaf.release()
    }

    /// Without a limit, a query may take its time, but a caller that is cancelled (a node told to stop) is not
    /// held by one deaf to it.
    @Test(.timeLimit(.minutes(1)))
    func aCancelledCallerIsNotHeldByAQueryWithoutALimit() async throws {
        let started = AsyncStream<Void>.makeStream()
        let deaf = DeafQuery()
        let caller = Task {
            try await DatabaseSilence.answer(within: nil) {
                started.continuation.yield()
                return await deaf.wait()
            }
        }
        for await _ in started.stream { break }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        deaf.release()
    }

    @Test func anAnswerWithinTheLimitIsReturned() async throws {
        #expect(try await DatabaseSilence.answer(within: .seconds(30)) { 7 } == 7)
    }
}

/// A query that does not answer, deaf to its caller's cancellation, until the test releases it (so that nothing
/// is left waiting when the test ends).
private struct DeafQuery {
    private let gate = AsyncStream<Void>.makeStream()

    func wait() async -> Int {
        // An unstructured task does not inherit the caller's cancellation, and waiting for its value ignores it.
        let stream = gate.stream
        await Task { for await _ in stream {} }.value
        return 0
    }

    func release() { gate.continuation.finish() }
}
