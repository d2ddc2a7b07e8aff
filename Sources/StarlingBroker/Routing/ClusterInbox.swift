import NIOConcurrencyHelpers
import NIOCore

/// What one other cluster node forwards to this broker (`MQTTBroker.clusterInbox(fromNode:done:)`), routed in
/// batches: the messages that arrive while the event loop is busy are routed together in its next task, with one
/// flush of the subscribers' sockets and one commit for them all, rather than a task, a write and a commit wait
/// each. Order is kept. `Token` is what the caller needs back to acknowledge a message (its packet, say).
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
    }

    private let node: String
    private let loop: BrokerLoop
    private let core: BrokerCore
    private let state = NIOLockedValueBox(State())
    private let done: @Sendable ([Token], Result<Void, any Error>) -> Void

    init(node: String, loop: BrokerLoop, core: BrokerCore, done: @escaping @Sendable ([Token], Result<Void, any Error>) -> Void) {
        self.node = node
        self.loop = loop
        self.core = core
        self.done = done
    }

    /// Routes `message` as `MQTTBroker.forward(_:fromClusterNode:sequence:shares:)` does, after everything given
    /// before it. `done` gets its token once it is as safe as a client's PUBACK would say, or with
    /// `BrokerError.notStored` when its commit failed (send it again).
    public func forward(_ message: Message, sequence: UInt64? = nil, shares: [String] = [], token: Token) {
        let entry = Entry(message: MQTTBroker.arrivingFromCluster(message), sequence: sequence, shares: shares, token: token)
        let schedule = state.withLockedValue { state -> Bool in
            state.waiting.append(entry)
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if schedule { loop.eventLoop.execute { self.routeWaiting() } }
    }

    private func routeWaiting() {
        let entries = state.withLockedValue { state -> [Entry] in
            state.scheduled = false
            defer { state.waiting.removeAll(keepingCapacity: false) }
            return state.waiting
        }
        guard !entries.isEmpty else { return }
        for entry in entries { MQTTBroker.route(entry.message, fromClusterNode: node, sequence: entry.sequence, shares: entry.shares, on: loop, core: core) }
        let tokens = entries.map(\.token)
        let done = self.done
        MQTTBroker.afterRouting(entries.lazy.map(\.message), on: loop).whenComplete { done(tokens, $0) }
    }
}
