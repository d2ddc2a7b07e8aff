import NIOConcurrencyHelpers
import NIOCore

/// What one other cluster node forwards to this broker (`MQTTBroker.clusterInbox(fromNode:done:)`), routed in
/// batches: the messages that arrive while the event loop is busy are routed together in its next task, with one
/// flush of the subscribers' sockets and one commit for them all, rather than a task, a write and a commit wait
/// each. Order is kept. `Token` is what the caller needs back to acknowledge a message (its packet, say).
///
/// Bounded: once `limit` messages wait, the link is to stop reading (`waitForRoom`) until the loop has taken
/// them, so that a node routing more slowly than another forwards holds back the link's socket, not memory.
public final class ClusterInbox<Token: Sendable>: Sendable {
    /// A forwarded message waiting for its turn.
    struct Entry: Sendable {
        let message: Message
        let sequence: UInt64?
        let shares: [String]
        let token: Token
    }

    private struct State {
        var waiting: [Entry] = []
        /// Whether a task to route `waiting` is on the event loop already.
        var scheduled = false
        /// Readers waiting for `waiting` to be taken.
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Messages that may wait for the loop before `forward` says the inbox is full.
    public let limit: Int

    private let node: String
    private let loop: BrokerLoop
    private let core: BrokerCore
    private let state = NIOLockedValueBox(State())
    private let done: @Sendable ([Token], Result<Void, any Error>) -> Void

    init(node: String, loop: BrokerLoop, core: BrokerCore, limit: Int, done: @escaping @Sendable ([Token], Result<Void, any Error>) -> Void) {
        self.limit = max(1, limit)
        self.node = node
        self.loop = loop
        self.core = core
        self.done = done
    }

    /// Routes `message` as `MQTTBroker.forward(_:fromClusterNode:sequence:shares:)` does, after everything given
    /// before it. `done` gets its token once it is as safe as a client's PUBACK would say, or with
    /// `BrokerError.notStored` when its commit failed (send it again). Returns false once `limit` messages wait:
    /// call `waitForRoom` before the next.
    @discardableResult
    public func forward(_ message: Message, sequence: UInt64? = nil, shares: [String] = [], token: Token) -> Bool {
        let entry = Entry(message: MQTTBroker.arrivingFromCluster(message), sequence: sequence, shares: shares, token: token)
        let (schedule, hasRoom) = state.withLockedValue { state -> (Bool, Bool) in
            state.waiting.append(entry)
            let hasRoom = state.waiting.count < limit
            guard !state.scheduled else { return (false, hasRoom) }
            state.scheduled = true
            return (true, hasRoom)
        }
        if schedule { loop.eventLoop.execute { self.routeWaiting() } }
        return hasRoom
    }

    /// Returns once fewer than `limit` messages wait: at once if they do already.
    public func waitForRoom() async {
        await withCheckedContinuation { continuation in
            let hasRoom = state.withLockedValue { state -> Bool in
                guard state.waiting.count >= limit else { return true }
                state.roomWaiters.append(continuation)
                return false
            }
            if hasRoom { continuation.resume() }
        }
    }

    private func routeWaiting() {
        let (entries, readers) = state.withLockedValue { state -> ([Entry], [CheckedContinuation<Void, Never>]) in
            state.scheduled = false
            defer {
                state.waiting.removeAll(keepingCapacity: false)
                state.roomWaiters.removeAll()
            }
            return (state.waiting, state.roomWaiters)
        }
        for reader in readers { reader.resume() }
        guard !entries.isEmpty else { return }
        for entry in entries { MQTTBroker.route(entry.message, fromClusterNode: node, sequence: entry.sequence, shares: entry.shares, on: loop, core: core) }
        let tokens = entries.map(\.token)
        let done = self.done
        MQTTBroker.afterRouting(entries.lazy.map(\.message), on: loop).whenComplete { done(tokens, $0) }
    }
}
