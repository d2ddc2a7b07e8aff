/// Text compared, hashed and ordered by its UTF-8 bytes.
///
/// Swift's `String` equality and hashing follow Unicode canonical equivalence: `"caf\u{e9}" == "cafe\u{301}"`.
/// MQTT forbids any normalisation when comparing topic names and filters (MQTT-4.7.3-4), and client
/// identifiers and user names are byte strings for the same reason: a name that merely looks like another
/// must not reach its subscriptions, retained messages, session, rules or password. Keys of those kinds are
/// kept as `ExactString` (or `ExactSubstring`, to look up a slice without copying it), and compared with
/// `hasSameBytes(as:)`.
public struct ExactString: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The text, kept as given.
    public let string: String

    /// Wraps `string` without copying or normalising it.
    @inlinable
    public init(_ string: String) {
        self.string = string
    }

    /// Wraps a literal, for keys written in code.
    @inlinable
    public init(stringLiteral value: String) {
        self.string = value
    }

    /// The text itself.
    public var description: String { string }

    /// Equal when the UTF-8 bytes are, unlike `String`'s `==`.
    @inlinable
    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.hasSameBytes(as: rhs.string)
    }

    /// Hashes the UTF-8 bytes, consistently with `==`.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        string.hashBytes(into: &hasher)
    }

    /// Orders by UTF-8 bytes, as a byte-wise sort would, not by Unicode collation.
    @inlinable
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }
}

/// A slice of a string compared and hashed by its UTF-8 bytes, as `ExactString` is.
public struct ExactSubstring: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The slice, kept as given.
    public let substring: Substring

    /// Wraps `substring` without copying it.
    @inlinable
    public init(_ substring: Substring) {
        self.substring = substring
    }

    /// Wraps a literal, for keys written in code.
    @inlinable
    public init(stringLiteral value: String) {
        self.substring = value[...]
    }

    /// The text of the slice.
    public var description: String { String(substring) }

    /// Equal when the UTF-8 bytes are, unlike `Substring`'s `==`.
    @inlinable
    public static func == (lhs: ExactSubstring, rhs: ExactSubstring) -> Bool {
        lhs.substring.hasSameBytes(as: rhs.substring)
    }

    /// Hashes the UTF-8 bytes, consistently with `==`.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        substring.hashBytes(into: &hasher)
    }
}

extension StringProtocol {
    /// Whether both are the same UTF-8 bytes; unlike `==`, canonically equivalent spellings differ.
    @inlinable
    public func hasSameBytes(as other: some StringProtocol) -> Bool {
        let mine = utf8
        let theirs = other.utf8
        guard mine.count == theirs.count else { return false }
        let compared = mine.withContiguousStorageIfAvailable { mine in
            theirs.withContiguousStorageIfAvailable { theirs in mine.elementsEqual(theirs) }
        }
        return (compared ?? nil) ?? mine.elementsEqual(theirs)
    }

    /// Feeds the UTF-8 bytes to `hasher`: equal bytes, equal hashes, whatever the Unicode equivalences.
    @inlinable
    public func hashBytes(into hasher: inout Hasher) {
        let bytes = utf8
        hasher.combine(bytes.count)
        let hashed: Void? = bytes.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            Array(bytes).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
