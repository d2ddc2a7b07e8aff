/// A PostgreSQL server that is down makes a query wait for a connection (until the pool's circuit breaker trips, a
/// minute on) rather than fail. Where the cluster must know sooner (a heartbeat, a client's CONNECT) it gives up
/// after a limit, with this error.
struct DatabaseSilence: Error, CustomStringConvertible {
    /// How long a query waits for the database's answer where one is needed soon.
    static let limit: Duration = .seconds(2)

    var description: String { "the cluster's database did not answer within \(Self.limit)" }

    /// Runs `body`, cancelled and thrown `DatabaseSilence` when it takes longer than `limit`.
    static func answer<Value: Sendable>(
        within limit: Duration = Self.limit, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw DatabaseSilence() }
            return value
        }
    }
}
