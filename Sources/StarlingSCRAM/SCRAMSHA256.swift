import Crypto
import _CryptoExtras

/// The arithmetic of SCRAM-SHA-256 (RFC 5802, RFC 7677) that both ends share: the salted password, the keys
/// derived from it, and the `a=1,b=2` attribute lists of its messages. The broker's `SCRAMAuthenticator` and the
/// client's `SCRAMClientAuthentication` run the exchange on top.
public enum SCRAMSHA256 {
    /// The Authentication Method of MQTT 5.0 enhanced authentication with SCRAM-SHA-256.
    public static let method = "SCRAM-SHA-256"

    /// PBKDF2-HMAC-SHA-256 of `password` with `salt` over `iterations` rounds: slow on purpose.
    public static func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = try? KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: SHA256.byteCount,
            unsafeUncheckedRounds: iterations)
        return key?.withUnsafeBytes { Array($0) } ?? []
    }

    public static func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// `a=1,b=2` as a dictionary; later attributes of the same name are ignored.
    public static func attributes(_ message: String) -> [String: String] {
        var result: [String: String] = [:]
        for field in message.split(separator: ",") {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else { continue }
            let name = String(field[..<equals])
            if result[name] == nil { result[name] = String(field[field.index(after: equals)...]) }
        }
        return result
    }

    /// A user name as a SCRAM message carries it: `,` and `=` escaped (RFC 5802, 5.1).
    public static func encodedName(_ name: String) -> String {
        name.replacing("=", with: "=3D").replacing(",", with: "=2C")
    }

    /// The user name of a SCRAM message, unescaped.
    public static func decodedName(_ encoded: String) -> String {
        encoded.replacing("=2C", with: ",").replacing("=3D", with: "=")
    }
}
