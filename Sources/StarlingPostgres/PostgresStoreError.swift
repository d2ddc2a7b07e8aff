/// Why a PostgreSQL store cannot be used.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server could not be reached, or refused the login.
        case unreachable
        /// The database's schema is newer than this broker knows.
        case newerSchema(Int)
        /// A stored message does not decode.
        case corruptRecord
        /// A batch was not committed: the server went away or refused it.
        case commitFailed
    }

    public var kind: Kind
    /// The server, without its password.
    public var url: PostgresURL
    public var detail: String

    public var description: String {
        switch kind {
        case .unreachable: "cannot use the PostgreSQL database at \(url): \(detail)"
        case .newerSchema(let version):
            "the PostgreSQL database at \(url) has schema version \(version), newer than this broker's \(PostgresStoreSchema.version): use a newer Starling"
        case .commitFailed: "a commit to the PostgreSQL database at \(url) failed: \(detail)"
        case .corruptRecord: "the PostgreSQL database at \(url) holds a record that does not decode: \(detail)"
        }
    }
}
