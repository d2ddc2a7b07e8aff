import Crypto
import _CryptoExtras

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A salted password hash in the notation of Mosquitto 2's password files, so that a file written by
/// `mosquitto_passwd` works unchanged and the other way round:
///
/// - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 (what `starling passwd` writes, with `defaultIterations`);
/// - `$6$SALT$HASH`: one round of SHA-512 over password and salt, read only, for files of Mosquitto 1.x.
///
/// SALT and HASH are Base64; HASH is 64 bytes.
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// How the hash was derived from the password and the salt.
    public enum Algorithm: Sendable, Hashable {
        /// PBKDF2 with HMAC-SHA512 over `iterations` rounds, 64 bytes of output: Mosquitto 2's `$7$`.
        case pbkdf2SHA512(iterations: Int)
        /// SHA-512 of the password followed by the salt, once: Mosquitto 1.x's `$6$`. Fast to guess; read so that
        /// old files keep working, never made by `init(password:iterations:)`.
        case sha512
    }

    /// How `hash` was derived.
    public let algorithm: Algorithm
    /// The salt mixed with the password: 12 random bytes in a hash this type makes, any non-empty length read.
    public let salt: [UInt8]
    /// The derived hash, 64 bytes.
    public let hash: [UInt8]

    /// OWASP's recommendation for PBKDF2-HMAC-SHA512 (2023); a check costs a few hundred milliseconds of one core.
    public static let defaultIterations = 210_000
    /// Bounds what a file may ask for, so that a typing error cannot make every login take minutes.
    static let maximumIterations = 100_000_000
    static let saltLength = 12
    static let hashLength = 64

    /// Hashes `password` with a fresh random salt.
    public init(password: some DataProtocol, iterations: Int = defaultIterations) {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let iterations = min(max(1, iterations), Self.maximumIterations)
        self.algorithm = .pbkdf2SHA512(iterations: iterations)
        self.salt = salt
        self.hash = Self.derive(password, salt: salt, algorithm: algorithm)
    }

    init(algorithm: Algorithm, salt: [UInt8], hash: [UInt8]) {
        self.algorithm = algorithm
        self.salt = salt
        self.hash = hash
    }

    /// Parses the part of a password file line after `user:`; nil if it is not a hash this type knows.
    public init?(encoded: some StringProtocol) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        // A leading `$` makes the first field empty.
        guard fields.count >= 4, fields[0].isEmpty else { return nil }
        let algorithm: Algorithm
        let saltField: Substring
        let hashField: Substring
        switch fields[1] {
        case "7" where fields.count == 5:
            guard let iterations = Int(fields[2]), iterations >= 1, iterations <= Self.maximumIterations else { return nil }
            algorithm = .pbkdf2SHA512(iterations: iterations)
            saltField = Substring(fields[3])
            hashField = Substring(fields[4])
        case "6" where fields.count == 4:
            algorithm = .sha512
            saltField = Substring(fields[2])
            hashField = Substring(fields[3])
        default:
            return nil
        }
        guard let salt = Data(base64Encoded: String(saltField)), !salt.isEmpty,
            let hash = Data(base64Encoded: String(hashField)), hash.count == Self.hashLength
        else { return nil }
        self.algorithm = algorithm
        self.salt = Array(salt)
        self.hash = Array(hash)
    }

    /// The hash as a password file line holds it after `user:`, `$7$ITERATIONS$SALT$HASH` or `$6$SALT$HASH`,
    /// which `init(encoded:)` reads back.
    public var description: String {
        let salt = Data(self.salt).base64EncodedString()
        let hash = Data(self.hash).base64EncodedString()
        switch algorithm {
        case .pbkdf2SHA512(let iterations): return "$7$\(iterations)$\(salt)$\(hash)"
        case .sha512: return "$6$\(salt)$\(hash)"
        }
    }

    /// Whether `password` is the one hashed; takes the hash's full cost whatever the answer, and compares in
    /// constant time. Slow on purpose: call it off the event loops.
    public func verify(_ password: some DataProtocol) -> Bool {
        let candidate = Self.derive(password, salt: salt, algorithm: algorithm)
        guard candidate.count == hash.count else { return false }
        var difference: UInt8 = 0
        for index in hash.indices { difference |= candidate[index] ^ hash[index] }
        return difference == 0
    }

    private static func derive(_ password: some DataProtocol, salt: [UInt8], algorithm: Algorithm) -> [UInt8] {
        switch algorithm {
        case .pbkdf2SHA512(let iterations):
            // The checked variant refuses fewer than 210,000 rounds, which files of Mosquitto 2.0 (101 rounds
            // by default) have: they are accepted as they are, and `starling passwd` writes stronger ones.
            guard let key = try? KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha512, outputByteCount: hashLength, unsafeUncheckedRounds: iterations)
            else { return [] }
            return key.withUnsafeBytes { Array($0) }
        case .sha512:
            var hasher = SHA512()
            hasher.update(data: Array(password))
            hasher.update(data: salt)
            return Array(hasher.finalize())
        }
    }
}
