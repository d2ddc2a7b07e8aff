import MQTT

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The users of a Mosquitto-style password file: one `username:hash` line each (see `PasswordHash`), blank
/// lines and lines starting with `#` ignored.
public struct PasswordFile: Sendable {
    /// By the bytes of the user name: `jose\u{301}` is not `jos\u{e9}`, though Swift's `==` says they are equal.
    public private(set) var users: [ExactString: PasswordHash]

    /// A file of `users`, none by default: a `PasswordFileAuthenticator` given it lets nobody in.
    public init(users: [ExactString: PasswordHash] = [:]) {
        self.users = users
    }

    /// Parses a whole file; any line that is not a user with a known hash makes it invalid, so that a mistake
    /// cannot silently lock a user out or leave an old password in force.
    public init(contents: String) throws(ConfigurationFileError) {
        var users: [ExactString: PasswordHash] = [:]
        var number = 0
        for line in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let text = line.hasSuffix("\r") ? line.dropLast() : line[...]
            // Bytes, not characters: `:` or `#` followed by a combining mark is still the separator or a comment.
            if text.allSatisfy(\.isWhitespace) || text.utf8.first == UInt8(ascii: "#") { continue }
            guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")), colon != text.startIndex else {
                throw ConfigurationFileError(line: number, reason: "expected username:hash")
            }
            let user = String(text[..<colon])
            guard let hash = PasswordHash(encoded: text[text.utf8.index(after: colon)...]) else {
                throw ConfigurationFileError(line: number, reason: "the hash of user \"\(user)\" is not $7$ (PBKDF2-SHA512) or $6$ (SHA-512)")
            }
            guard users.updateValue(hash, forKey: ExactString(user)) == nil else {
                throw ConfigurationFileError(line: number, reason: "user \"\(user)\" appears twice")
            }
        }
        self.users = users
    }

    /// Reads and parses the file at `path` as `init(contents:)` does; the error names the path, with line 0 when
    /// the file cannot be read or is not UTF-8.
    public init(path: String) throws(ConfigurationFileError) {
        self = try ConfigurationFileError.parse(path) { text throws(ConfigurationFileError) in try Self(contents: text) }
    }
}

extension PasswordFile {
    /// `contents` with the line of `user` replaced by one with `hash`, added at the end if there was none, or
    /// removed when `hash` is nil; every other line stays as it was. `found` says whether `user` had a line.
    public static func editing(_ contents: String, user: String, hash: PasswordHash?) -> (contents: String, found: Bool) {
        var lines = contents.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let prefix = user + ":"
        var found = false
        var edited: [String] = []
        for line in lines {
            // Bytes, not `hasPrefix`: a canonically equivalent name is another user's line.
            guard line.utf8.starts(with: prefix.utf8) else {
                edited.append(line)
                continue
            }
            found = true
            if let hash { edited.append(prefix + hash.description) }
        }
        if !found, let hash { edited.append(prefix + hash.description) }
        return (edited.isEmpty ? "" : edited.joined(separator: "\n") + "\n", found)
    }

    /// Why `user` cannot be a user name in a password file, or nil if it can.
    public static func problem(withUserName user: String) -> String? {
        if user.isEmpty { return "the user name is empty" }
        if user.utf8.contains(UInt8(ascii: ":")) { return "the user name contains \":\"" }
        if user.contains(where: \.isNewline) { return "the user name contains a line break" }
        if user.utf8.first == UInt8(ascii: "#") { return "the user name starts with \"#\"" }
        return nil
    }
}
