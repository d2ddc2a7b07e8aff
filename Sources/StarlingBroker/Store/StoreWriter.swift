import Atomics
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The single writer between the event loops and the store: it takes the changes the loops handed off since the
/// last commit and commits them as one batch (group commit), then tells each loop how far its changes are durable.
/// While one batch commits, the next accumulates.
final class StoreWriter: Sendable {
    struct Batch: Sendable {
        var loopIndex: Int
        var ticket: UInt64
        var changes: [StoreChange]
    }

    private struct State {
        var pending: [Batch] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finishing = false
        var task: Task<Void, Never>?
    }

    let store: any BrokerStore
    let durability: Durability
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Commits made, and those of them that failed.
    let commits = ManagedAtomic<UInt64>(0)
    let commitFailures = ManagedAtomic<UInt64>(0)
    private let commitDuration: CoreMetrics.Timer?

    init(store: any BrokerStore, durability: Durability, logger: Logger, metrics: (any MetricsFactory)? = nil) {
        self.store = store
        self.durability = durability
        self.logger = logger
        self.commitDuration = metrics.map { CoreMetrics.Timer(label: "starling_store_commit_duration_seconds", factory: $0) }
    }

    /// Queues a loop's changes for the next commit. Called once per loop per burst, not per message.
    func submit(_ batch: Batch) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.pending.append(batch)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func start(loops: [BrokerLoop]) {
        let task = Task { await self.run(loops: loops) }
        state.withLockedValue { $0.task = task }
    }

    /// Commits what is left, then closes the store.
    func finish() async {
        let (waiter, task) = state.withLockedValue { state in
            state.finishing = true
            defer { state.waiter = nil }
            return (state.waiter, state.task)
        }
        waiter?.resume()
        await task?.value
    }

    private func run(loops: [BrokerLoop]) async {
        var failing = false
        while let batches = await next() {
            var changes: [StoreChange] = []
            if batches.count == 1 {
                changes = batches[0].changes
            } else {
                changes.reserveCapacity(batches.reduce(0) { $0 + $1.changes.count })
                for batch in batches { changes.append(contentsOf: batch.changes) }
            }
            var failed = false
            let started = NIODeadline.now()
            do {
                try await store.commit(changes)
                if failing {
                    failing = false
                    logger.notice("store writes succeed again")
                }
            } catch {
                failed = true
                if !failing {
                    failing = true
                    logger.error("store commit failed; QoS 1 and 2 publishes are refused until it succeeds", metadata: ["error": "\(error)"])
                }
            }
            commitDuration?.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            commits.wrappingIncrement(ordering: .relaxed)
            if failed { commitFailures.wrappingIncrement(ordering: .relaxed) }
            let outcome = failed
            var highest: [Int: UInt64] = [:]
            for batch in batches { highest[batch.loopIndex] = max(highest[batch.loopIndex] ?? 0, batch.ticket) }
            for (index, ticket) in highest {
                let loop = loops[index]
                loop.eventLoop.execute { loop.storeChanges?.committed(through: ticket, failed: outcome) }
            }
            if case .periodic(let interval) = durability, !state.withLockedValue({ $0.finishing }) {
                try? await Task.sleep(nanoseconds: UInt64(max(0, interval.nanoseconds)))
            }
        }
        do {
            try await store.close()
        } catch {
            logger.error("could not close the store", metadata: ["error": "\(error)"])
        }
    }

    /// Every batch handed off so far; waits while there is none; nil once finishing with nothing left.
    private func next() async -> [Batch]? {
        while true {
            let taken = state.withLockedValue { state -> [Batch]?? in
                if !state.pending.isEmpty {
                    defer { state.pending.removeAll(keepingCapacity: true) }
                    return .some(state.pending)
                }
                return state.finishing ? .some(nil) : nil
            }
            if let taken { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLockedValue { state -> Bool in
                    if !state.pending.isEmpty || state.finishing { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }
}
