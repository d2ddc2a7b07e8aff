import NIOConcurrencyHelpers
import NIOCore

/// The authenticator's decisions under way, per client IP address and in all, within
/// `Limits.maximumAuthentications` and `Limits.maximumAuthenticationsPerAddress`.
///
/// A password check costs a PBKDF2 on purpose, and happens before the client is known: without a bound, a
/// flood of bad logins queues so much work that legitimate logins wait past their timeout. Beyond the bound a
/// CONNECT is refused at once, so the work queued stays bounded and no address holds more than its share.
/// A slot is held until the authenticator returns, not until the client is answered: that is when the work is
/// over (a decision abandoned at the timeout may still be running).
final class AuthenticationsInFlight: Sendable {
    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    let maximum: Int?
    let maximumPerAddress: Int?
    private let counts = NIOLockedValueBox(Counts())
    /// Refusals, logged with their count at most once every ten seconds.
    let refusals = RareLog()

    init(maximum: Int?, maximumPerAddress: Int?) {
        self.maximum = maximum
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a slot for a decision about a client from `address`; false when the bounds leave none.
    func enter(_ address: SocketAddress?) -> Bool {
        let key = address?.ipAddress
        return counts.withLockedValue { counts in
            if let maximum, counts.total >= maximum { return false }
            if let key, let maximumPerAddress, counts.byAddress[key, default: 0] >= maximumPerAddress { return false }
            counts.total += 1
            if let key { counts.byAddress[key, default: 0] += 1 }
            return true
        }
    }

    /// Gives back the slot `enter` took.
    func leave(_ address: SocketAddress?) {
        let key = address?.ipAddress
        counts.withLockedValue { counts in
            counts.total -= 1
            guard let key, let count = counts.byAddress[key] else { return }
            // Addresses with nothing under way are forgotten, so the table holds only those at work.
            counts.byAddress[key] = count > 1 ? count - 1 : nil
        }
    }
}
