import NIOConcurrencyHelpers
import NIOCore
import StarlingBroker

/// An authenticator that keeps every decision under way until the test lets them go, so that a test can
/// have a known number of logins in flight at once without timing: it lets in password "secret" and refuses
/// the others, but only once `release()` is called (logins with `passThrough` passwords are decided at once).
final class HeldAuthenticator: ConnectionAuthenticator {
    private struct State {
        var held = 0
        var released = false
        var releaseWaiters: [CheckedContinuation<Void, Never>] = []
        var countWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }

    private let state = NIOLockedValueBox(State())
    let passThrough: Set<String>

    init(passThrough: Set<String> = []) {
        self.passThrough = passThrough
    }

    func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision {
        let password = request.password.map { String(buffer: $0) } ?? ""
        if !passThrough.contains(password) { await hold() }
        return password == "secret" ? .accept() : .refuse(.badUserNameOrPassword)
    }

    private func hold() async {
        await withCheckedContinuation { continuation in
            let due = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                state.held += 1
                let count = state.held
                let due = state.countWaiters.filter { $0.0 <= count }.map(\.1)
                state.countWaiters.removeAll { $0.0 <= count }
                if state.released { return due + [continuation] }
                state.releaseWaiters.append(continuation)
                return due
            }
            for waiter in due { waiter.resume() }
        }
    }

    /// Returns once `count` decisions have been held (in all, released ones included).
    func waitUntilHeld(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state in
                if state.held >= count { return true }
                state.countWaiters.append((count, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    var heldCount: Int { state.withLockedValue { $0.held } }

    /// Lets every held decision, and every later one, go on.
    func release() {
        let waiters = state.withLockedValue { state in
            state.released = true
            defer { state.releaseWaiters = [] }
            return state.releaseWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
