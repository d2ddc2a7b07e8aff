import NIOConcurrencyHelpers

/// One commit's race between its transaction and the limits on it: whichever comes first decides. A transaction
/// that has not begun when the first limit passes is abandoned, and writes nothing should it begin after all; one
/// that has not ended when the second passes is abandoned too, its outcome unknown (its connection is closed).
final class CommitOutcome: Sendable {
    private enum Phase {
        case waiting, begun, abandoned
    }

    private struct State {
        var phase = Phase.waiting
        var result: Result<Void, any Error>?
        var waiter: CheckedContinuation<(any Error)?, Never>?
    }

    private let state = NIOLockedValueBox(State())

    /// The transaction has a connection: true unless the commit was abandoned.
    func begin() -> Bool {
        state.withLockedValue { state in
            guard state.phase == .waiting else { return false }
            state.phase = .begun
            return true
        }
    }

    /// A limit passed: true when the transaction had not begun (or, `evenBegun`, had not ended), which is then
    /// abandoned.
    func abandon(evenBegun: Bool = false) -> Bool {
        let (abandoned, waiter) = state.withLockedValue { state -> (Bool, CheckedContinuation<(any Error)?, Never>?) in
            guard state.phase == .waiting || (evenBegun && state.phase == .begun), state.result == nil else { return (false, nil) }
            state.phase = .abandoned
            state.result = .failure(ConnectionWaitExceeded())
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(returning: ConnectionWaitExceeded())
        return abandoned
    }

    /// The transaction ended, with `error` if it failed.
    func finish(_ error: (any Error)?) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<(any Error)?, Never>? in
            guard state.result == nil else { return nil }
            state.result = error.map { .failure($0) } ?? .success(())
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: error)
    }

    /// The error the commit failed with, or nil, once decided.
    func result() async -> (any Error)? {
        await withCheckedContinuation { continuation in
            let decided = state.withLockedValue { state -> Result<Void, any Error>? in
                if state.result == nil { state.waiter = continuation }
                return state.result
            }
            switch decided {
            case nil: break
            case .success: continuation.resume(returning: nil)
            case .failure(let error): continuation.resume(returning: error)
            }
        }
    }

    struct ConnectionWaitExceeded: Error, CustomStringConvertible {
        var description: String { "the database did not take the commit within \(PostgresBrokerStore.connectionLimit)" }
    }
}
