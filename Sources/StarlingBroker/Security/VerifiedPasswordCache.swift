import Crypto
import MQTT
import NIOConcurrencyHelpers

/// Remembers recent successful logins, so that a fleet of clients reconnecting at once (after a network outage or
/// a broker restart) does not cost a full PBKDF2 each time.
///
/// Per user it keeps the stored hash the password was checked against and an HMAC-SHA256 of the password under a
/// key drawn at random for this process, never the password. A changed or removed user no longer matches its
/// entry, and only a password that once passed the slow check takes the fast path.
final class VerifiedPasswordCache: Sendable {
    private struct Entry: Sendable {
        var hash: PasswordHash
        var digest: [UInt8]
    }

    private let key = SymmetricKey(size: .bits256)
    /// By the bytes of the user name, as the password file keys them.
    private let entries = NIOLockedValueBox<[ExactString: Entry]>([:])
    /// Users remembered at most; beyond it the memory starts over.
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Whether `password` passed the check against `hash` for `user` before.
    func contains(user: String, hash: PasswordHash, password: [UInt8]) -> Bool {
        guard let entry = entries.withLockedValue({ $0[ExactString(user)] }), entry.hash == hash else { return false }
        let digest = self.digest(password)
        guard digest.count == entry.digest.count else { return false }
        var difference: UInt8 = 0
        for index in digest.indices { difference |= digest[index] ^ entry.digest[index] }
        return difference == 0
    }

    func insert(user: String, hash: PasswordHash, password: [UInt8]) {
        let entry = Entry(hash: hash, digest: digest(password))
        let user = ExactString(user)
        entries.withLockedValue { entries in
            if entries.count >= capacity, entries[user] == nil { entries.removeAll() }
            entries[user] = entry
        }
    }

    private func digest(_ password: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: password, using: key))
    }
}
