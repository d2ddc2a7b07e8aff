import Atomics
import NIOConcurrencyHelpers

/// The broker's `AccessControlList`, replaceable while it runs (`reload()` on SIGHUP) without dropping a
/// connection: each connection notices the new rules at its next check.
public final class AccessControl: Sendable {
    /// The file `reload()` reads, if the list came from one.
    public let path: String?
    private let current: NIOLockedValueBox<AccessControlList>
    /// Bumped on every change, so that connections re-resolve their rules with one atomic load per check.
    let generation = ManagedAtomic(0)

    /// Puts `list` in force; without a `path`, `reload()` does nothing.
    public init(_ list: AccessControlList) {
        self.path = nil
        self.current = NIOLockedValueBox(list)
    }

    /// Reads the list from `path`; throws if it is not a valid ACL file.
    public init(path: String) throws(ConfigurationFileError) {
        self.path = path
        self.current = NIOLockedValueBox(try AccessControlList(path: path))
    }

    /// The rules in force.
    public var list: AccessControlList {
        current.withLockedValue { $0 }
    }

    /// Puts `list` in force; each connection applies it from its next check on, without being dropped.
    public func update(_ list: AccessControlList) {
        current.withLockedValue { $0 = list }
        generation.wrappingIncrement(ordering: .releasing)
    }

    /// Reads `path` again; when the file is not valid the rules in force stay and the error says why.
    public func reload() throws(ConfigurationFileError) {
        guard let path else { return }
        update(try AccessControlList(path: path))
    }
}
