/// Why a database file could not be used as the broker's store.
public struct SQLiteStoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Hashable {
        /// The file is not an SQLite database, or is damaged.
        case unreadable
        /// An SQLite database, but not one this broker wrote.
        case foreign
        /// Written by a newer version whose schema this one does not know.
        case newerSchema(Int)
        /// A stored record could not be decoded.
        case corruptRecord
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public var description: String {
        switch kind {
        case .unreadable: "\(path) is not a readable SQLite database (\(detail)); move it away or choose another --data-dir"
        case .foreign: "\(path) is an SQLite database of another application (\(detail)); choose another --data-dir"
        case .newerSchema(let version): "\(path) has schema version \(version), newer than this starling knows; use a newer starling"
        case .corruptRecord: "\(path) holds a damaged record (\(detail))"
        }
    }
}
