import Atomics
import NIOConcurrencyHelpers

/// Changes to the subscription tree that not every loop's replica has yet. A change is carried to each loop by
/// a task, which runs only after that loop has handled the reads already under way; a loop about to route a
/// message first makes the changes it has not made yet. So once a SUBSCRIBE has been handled, a message routed
/// on any loop after that sees it, even before SUBACK, on one loop or several.
final class PendingSubscriptionChanges: Sendable {
    typealias Change = @Sendable (inout TopicTree) -> Void

    private struct Pending {
        let change: Change
        /// Indexed by loop: whether that loop's replica has it.
        var made: [Bool]
    }

    private let pending = NIOLockedValueBox<[Pending]>([])
    /// How many changes are pending: read by every route, so it is an atomic rather than the lock.
    private let count = ManagedAtomic(0)
    private let loopCount: Int

    init(loopCount: Int) {
        self.loopCount = loopCount
    }

    /// Whether some change has not reached every loop yet.
    var any: Bool {
        count.load(ordering: .acquiring) > 0
    }

    func add(_ change: @escaping Change) {
        pending.withLockedValue { pending in
            pending.append(Pending(change: change, made: Array(repeating: false, count: loopCount)))
            count.store(pending.count, ordering: .releasing)
        }
    }

    /// Makes on `loop`'s replica, in the order they were added, the changes it does not have yet. Only on `loop`.
    func catchUp(_ loop: BrokerLoop) {
        loop.eventLoop.preconditionInEventLoop()
        pending.withLockedValue { pending in
            for index in pending.indices where !pending[index].made[loop.index] {
                pending[index].change(&loop.subscriptions)
                pending[index].made[loop.index] = true
            }
            pending.removeAll { $0.made.allSatisfy { $0 } }
            count.store(pending.count, ordering: .releasing)
        }
    }
}
