import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Lets in the users of a `PasswordFile` with their password, replaceable while the broker runs (`reload()`
/// on SIGHUP) without dropping a connection.
///
/// A wrong password, or an unknown user, is answered Bad User Name or Password (0x86) for MQTT 5.0 and Not
/// authorized (0x05) for 3.1.1, as Mosquitto does; both take the same time, so that the answer does not tell
/// which users exist. Hashes are checked on a thread pool, never on an event loop or the cooperative pool; a
/// password that passed is remembered (see `VerifiedPasswordCache`), so reconnecting with it is cheap.
public final class PasswordFileAuthenticator: ConnectionAuthenticator {
    /// The file `reload()` reads, if the users came from one.
    public let path: String?
    private let current: NIOLockedValueBox<PasswordFile>
    private let threadPool: NIOThreadPool
    private let verified = VerifiedPasswordCache()

    /// Lets in the users of `file`, checking hashes on `threadPool`; without a `path`, `reload()` does nothing.
    public init(_ file: PasswordFile, threadPool: NIOThreadPool = .singleton) {
        self.path = nil
        self.current = NIOLockedValueBox(file)
        self.threadPool = threadPool
    }

    /// Reads the users from `path`; throws if it is not a valid password file.
    public init(path: String, threadPool: NIOThreadPool = .singleton) throws(ConfigurationFileError) {
        self.path = path
        self.current = NIOLockedValueBox(try PasswordFile(path: path))
        self.threadPool = threadPool
    }

    /// The users in force.
    public var file: PasswordFile {
        current.withLockedValue { $0 }
    }

    /// Puts the users of `file` in force for the logins that follow; connected clients stay connected.
    public func update(_ file: PasswordFile) {
        current.withLockedValue { $0 = file }
    }

    /// Reads `path` again; when the file is not valid the users in force stay and the error says why.
    public func reload() throws(ConfigurationFileError) {
        guard let path else { return }
        update(try PasswordFile(path: path))
    }

    /// Accepts a CONNECT whose User Name and Password match the file. Refuses any Authentication Method with Bad
    /// authentication method (0x8C), a CONNECT without a User Name and every re-authentication with Not authorized.
    public func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision {
        let refusal: ReasonCode = request.protocolVersion == .v5 ? .badUserNameOrPassword : .notAuthorized
        if request.authenticationMethod != nil {
            return .refuse(.badAuthenticationMethod, reasonString: "only user name and password are supported")
        }
        guard let userName = request.userName else { return .refuse(.notAuthorized) }
        // Re-authentication carries no password; only enhanced methods can re-authenticate.
        guard request.stage == .connect else { return .refuse(.notAuthorized) }
        let stored = current.withLockedValue { $0.users[ExactString(userName)] }
        let password = request.password.map { Array($0.readableBytesView) } ?? []
        if let stored, verified.contains(user: userName, hash: stored, password: password) { return .accept() }
        let hash = stored ?? Self.decoy(like: current.withLockedValue { $0.users.values.first })
        let matches = try await threadPool.runIfActive { hash.verify(password) }
        guard let stored, matches else {
            return .refuse(refusal, reasonString: "bad user name or password")
        }
        verified.insert(user: userName, hash: stored, password: password)
        return .accept()
    }

    /// A hash as costly as the file's, to check the password of an unknown user against; matches nothing.
    private static func decoy(like example: PasswordHash?) -> PasswordHash {
        PasswordHash(
            algorithm: example?.algorithm ?? .pbkdf2SHA512(iterations: PasswordHash.defaultIterations),
            salt: [UInt8](repeating: 0, count: PasswordHash.saltLength), hash: [UInt8](repeating: 0, count: PasswordHash.hashLength))
    }
}
