import NIOCore

/// Opens connections with at most `window` under way at once, driven from one event loop by futures: the
/// next attempt starts as one completes, with no task per connection, so a run measures the broker's
/// connection rate rather than the generator's scheduling. Generic over what an attempt yields (a channel).
final class BenchConnectWindow<Connection: Sendable>: @unchecked Sendable {
    // Sendable proof: `next`, `inFlight` and `outcome` are touched only on `eventLoop`: `run` starts there,
    // and every completion hops back to it before reading or changing them.
    struct Outcome: Sendable {
        var connections: [Connection] = []
        var failures = 0
        var firstError: String?
    }

    let count: Int
    let window: Int
    let eventLoop: any EventLoop
    private let connect: @Sendable (Int) -> EventLoopFuture<Connection>
    private let done: EventLoopPromise<Outcome>
    private var next = 0
    private var inFlight = 0
    private var outcome = Outcome()

    init(count: Int, window: Int, eventLoop: any EventLoop, connect: @escaping @Sendable (Int) -> EventLoopFuture<Connection>) {
        self.count = count
        self.window = max(1, window)
        self.eventLoop = eventLoop
        self.connect = connect
        self.done = eventLoop.makePromise()
        outcome.connections.reserveCapacity(count)
    }

    /// Makes all `count` attempts; the future succeeds once every one has succeeded or failed.
    func run() -> EventLoopFuture<Outcome> {
        eventLoop.execute { self.fill() }
        return done.futureResult
    }

    private func fill() {
        while inFlight < window && next < count {
            let index = next
            next += 1
            inFlight += 1
            connect(index).hop(to: eventLoop).whenComplete { result in
                self.inFlight -= 1
                switch result {
                case .success(let connection): self.outcome.connections.append(connection)
                case .failure(let error):
                    self.outcome.failures += 1
                    if self.outcome.firstError == nil { self.outcome.firstError = "\(error)" }
                }
                self.fill()
            }
        }
        if inFlight == 0 && next >= count { done.succeed(outcome) }
    }
}
