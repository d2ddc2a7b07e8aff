import NIOCore
import NIOPosix
import Testing

@testable import StarlingBench

@Suite struct BenchConnectWindowTests {
    struct Refused: Error {}

    /// Each attempt is handed to the test, which completes it; the window must never have more than its size
    /// open, must make every attempt once, and must count what failed.
    @Test func neverMoreThanTheWindowUnderWayAndEveryAttemptCounted() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let (attempts, continuation) = AsyncStream.makeStream(of: (Int, EventLoopPromise<Int>).self)
        let window = BenchConnectWindow<Int>(count: 10, window: 3, eventLoop: loop) { index in
            let promise = loop.makePromise(of: Int.self)
            continuation.yield((index, promise))
            return promise.futureResult
        }
        let outcome = window.run()
        var open: [(Int, EventLoopPromise<Int>)] = []
        var seen: [Int] = []
        var iterator = attempts.makeAsyncIterator()
        while seen.count < 10 {
            // Take every attempt made so far; the window then holds exactly min(3, what is left) open.
            guard let attempt = await iterator.next() else { break }
            open.append(attempt)
            seen.append(attempt.0)
            #expect(open.count <= 3, "more than the window under way")
            let remaining = 10 - (seen.count - open.count)
            guard open.count == min(3, remaining) else { continue }
            let (index, promise) = open.removeFirst()
            if index % 4 == 0 { promise.fail(Refused()) } else { promise.succeed(index) }
        }
        for (index, promise) in open {
            if index % 4 == 0 { promise.fail(Refused()) } else { promise.succeed(index) }
        }
        let result = try await outcome.get()
        #expect(seen == Array(0..<10))
        #expect(result.failures == 3)  // 0, 4 and 8
        #expect(Set(result.connections) == Set([1, 2, 3, 5, 6, 7, 9]))
        #expect(result.firstError != nil)
        continuation.finish()
        try await group.shutdownGracefully()
    }

    @Test func noAttemptsFinishAtOnce() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let window = BenchConnectWindow<Int>(count: 0, window: 4, eventLoop: group.next()) { _ in
            Issue.record("no attempt expected")
            return group.next().makeSucceededFuture(0)
        }
        let result = try await window.run().get()
        #expect(result.connections.isEmpty && result.failures == 0)
        try await group.shutdownGracefully()
    }
}
