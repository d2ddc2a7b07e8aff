import NIOConcurrencyHelpers

/// A PostgreSQL server that is down makes a query wait for a connection (until the pool's circuit breaker trips, a
/// minute on) rather than fail. Where the cluster must know sooner (a heartbeat, a client's CONNECT) it gives up
/// after a limit, with this error.
struct DatabaseSilence: Error, CustomStringConvertible {
    /// How long a query waits for the database's answer where one is needed soon.
    static let limit: Duration = .seconds(2)

    var description: String { "the cluster's database did not answer within \(Self.limit)" }

    /// Runs `body`, thrown `DatabaseSilence` when it takes longer than `limit`. The caller does not wait for a
    /// `body` that ignores its cancellation (a query on a connection that no longer answers does): it is
    /// cancelled and left to end by itself.
    ///
    /// With no `limit`, `body` may take as long as it takes, but a cancelled caller returns at once, with
    /// `CancellationError`, whether or not `body` heeds it: a node told to stop is not held by a query waiting for
    /// a connection the pool will not give.
    static func answer<Value: Sendable>(
        within limit: Duration? = Self.limit, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let outcome = FirstOutcome<Value>()
        let work = Task {
            do {
                outcome.settle(.success(try await body()))
            } catch {
                outcome.settle(.failure(error))
            }
        }
        let timer = limit.map { limit in
            Task {
                try? await Task.sleep(for: limit)
                outcome.settle(.failure(DatabaseSilence()))
            }
        }
        defer {
            work.cancel()
            timer?.cancel()
        }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            outcome.settle(.failure(CancellationError()))
        }
    }
}

/// The first of several outcomes to arrive; the later ones are ignored.
private final class FirstOutcome<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiter: CheckedContinuation<Value, any Error>?
    }

    private let state = NIOLockedValueBox(State())

    func settle(_ result: Result<Value, any Error>) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Value, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let settled = state.withLockedValue { state -> Result<Value, any Error>? in
                if state.result == nil { state.waiter = continuation }
                return state.result
            }
            if let settled { continuation.resume(with: settled) }
        }
    }
}
