import NIOConcurrencyHelpers

/// Holds back what the links bring in while a session moves to this node, so that a message for it that another
/// node forwards meanwhile waits for the session rather than finding none. Open unless a move is under way; a
/// link asks only a lock when open.
final class LinkGate: Sendable {
    private struct State {
        var closers = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    func close() {
        state.withLockedValue { $0.closers += 1 }
    }

    func open() {
        let waiting = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.closers -= 1
            guard state.closers == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns at once while open; otherwise once every move under way is done.
    func pass() async {
        guard state.withLockedValue({ $0.closers > 0 }) else { return }
        await withCheckedContinuation { continuation in
            let open = state.withLockedValue { state in
                if state.closers == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }
}
