import MQTT

/// Who may publish to and receive from which topics, in the format of Mosquitto's `acl_file`:
///
/// ```
/// # before any `user` line: the rules for clients without a user name
/// topic read public/#
///
/// user alice
/// topic readwrite alice/#
/// topic deny alice/secret/#
///
/// client sensor-17          # (Starling) the rules for one client identifier
/// topic write sensors/17/#
///
/// # for every client: %u is its user name, %c its client identifier
/// pattern readwrite devices/%u/#
/// pattern read status/%c
/// ```
///
/// The access is `read`, `write`, `readwrite` (the default when it is left out) or `deny`; a line naming an
/// access but no topic (`topic deny`) is an error, so a topic called `deny` is written `topic readwrite deny`.
/// A client may do what one of its rules allows unless one of its `deny` rules matches; nothing else. Topic
/// patterns are MQTT filters, matched as subscriptions are (so `#` does not cover `$SYS/...`). A pattern whose
/// `%u` or `%c` would be filled with a value containing `+`, `#` or `/`, or with no user name, does not apply.
public struct AccessControlList: Sendable, Hashable {
    /// What a rule grants or takes away; the raw value is the word in the file.
    public enum Access: String, Sendable, Hashable {
        /// Subscribing to, and receiving messages on, the matching topics.
        case read
        /// Publishing to the matching topics, wills included.
        case write
        /// Both `read` and `write`; a rule without an access word means this.
        case readwrite
        /// Neither, whatever another rule of the client allows.
        case deny
    }

    /// One `topic` or `pattern` line: an access and the topic filter it applies to.
    public struct Rule: Sendable, Hashable {
        /// What the rule grants, or takes away for `deny`.
        public var access: Access
        /// An MQTT topic filter (`+` and `#` allowed); in `patterns`, `%u` and `%c` stand for the client's user
        /// name and client identifier.
        public var pattern: String

        /// A rule giving `access` to the topics `pattern` matches.
        public init(_ access: Access, _ pattern: String) {
            self.access = access
            self.pattern = pattern
        }
    }

    /// Rules for clients that connected without a user name.
    public var anonymous: [Rule] = []
    /// Rules for each user name (`user` sections), keyed by the bytes of the name: a canonically equivalent
    /// name is another one.
    public var users: [ExactString: [Rule]] = [:]
    /// Rules for one client identifier (`client` sections, a Starling extension), on top of its user's; keyed by
    /// bytes, as `users`.
    public var clients: [ExactString: [Rule]] = [:]
    /// Rules for every client, with `%u` and `%c` substituted.
    public var patterns: [Rule] = []

    /// A list of the given rules; the empty list, the default, lets nobody publish or subscribe.
    public init(anonymous: [Rule] = [], users: [ExactString: [Rule]] = [:], clients: [ExactString: [Rule]] = [:], patterns: [Rule] = []) {
        self.anonymous = anonymous
        self.users = users
        self.clients = clients
        self.patterns = patterns
    }

    /// Parses the text of an ACL file; throws, naming the line, at an unknown keyword, a section without a name
    /// or a rule without a valid topic filter.
    public init(contents: String) throws(ConfigurationFileError) {
        enum Section {
            case anonymous
            case user(String)
            case client(String)
        }
        var section = Section.anonymous
        var number = 0
        for line in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let text = line.trimmingWhitespace
            if text.isEmpty || text.first == "#" { continue }
            let keywordEnd = text.firstIndex(where: \.isWhitespace) ?? text.endIndex
            let keyword = text[..<keywordEnd]
            let rest = text[keywordEnd...].trimmingWhitespace
            switch keyword {
            case "user", "client":
                guard !rest.isEmpty else { throw ConfigurationFileError(line: number, reason: "\(keyword) without a name") }
                section = keyword == "user" ? .user(String(rest)) : .client(String(rest))
            case "topic", "pattern":
                var access = Access.readwrite
                var pattern = rest
                let accessEnd = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
                if let named = Access(rawValue: String(rest[..<accessEnd])) {
                    // `topic deny` alone is a rule whose topic was left out, not one for the topic "deny":
                    // read as the latter, a line meant to take access away would grant it.
                    access = named
                    pattern = rest[accessEnd...].trimmingWhitespace
                }
                guard !pattern.isEmpty else { throw ConfigurationFileError(line: number, reason: "\(keyword) without a topic") }
                do {
                    try TopicFilter.validateFilter(String(pattern))
                } catch {
                    throw ConfigurationFileError(line: number, reason: "\"\(pattern)\" is not a valid topic filter")
                }
                let rule = Rule(access, String(pattern))
                if keyword == "pattern" {
                    patterns.append(rule)
                } else {
                    switch section {
                    case .anonymous: anonymous.append(rule)
                    case .user(let name): users[ExactString(name), default: []].append(rule)
                    case .client(let identifier): clients[ExactString(identifier), default: []].append(rule)
                    }
                }
            default:
                throw ConfigurationFileError(line: number, reason: "unknown keyword \"\(keyword)\" (expected user, client, topic or pattern)")
            }
        }
    }

    /// Reads and parses the ACL file at `path`; throws if it cannot be read or is not valid.
    public init(path: String) throws(ConfigurationFileError) {
        self = try ConfigurationFileError.parse(path) { text throws(ConfigurationFileError) in try Self(contents: text) }
    }

    /// The rules that apply to one client, resolved once when it connects.
    public func rules(userName: String?, clientIdentifier: String) -> AccessRules {
        var rules = AccessRules()
        if let userName {
            rules.add(users[ExactString(userName)] ?? [])
        } else {
            rules.add(anonymous)
        }
        rules.add(clients[ExactString(clientIdentifier)] ?? [])
        for rule in patterns {
            guard let pattern = Self.substitute(rule.pattern, userName: userName, clientIdentifier: clientIdentifier) else { continue }
            rules.add([Rule(rule.access, pattern)])
        }
        return rules
    }

    /// Fills `%u` and `%c` in one pass over `pattern`, so that text a substituted value brings in (a user
    /// named `%c`, say) is never read as a placeholder. nil when the pattern does not apply to the client.
    static func substitute(_ pattern: String, userName: String?, clientIdentifier: String) -> String? {
        guard pattern.utf8.contains(UInt8(ascii: "%")) else { return pattern }
        func usable(_ value: String) -> Bool {
            // A name with a wildcard or a separator would reach beyond the client's own subtree.
            !value.isEmpty && !value.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "/") })
        }
        var result: [UInt8] = []
        var bytes = pattern.utf8[...]
        while let first = bytes.first {
            bytes = bytes.dropFirst()
            guard first == UInt8(ascii: "%"), let next = bytes.first, next == UInt8(ascii: "u") || next == UInt8(ascii: "c") else {
                result.append(first)
                continue
            }
            bytes = bytes.dropFirst()
            if next == UInt8(ascii: "u") {
                guard let userName, usable(userName) else { return nil }
                result.append(contentsOf: userName.utf8)
            } else {
                guard usable(clientIdentifier) else { return nil }
                result.append(contentsOf: clientIdentifier.utf8)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// The access rules of one client, as `AccessControlList.rules(userName:clientIdentifier:)` resolves them.
public struct AccessRules: Sendable, Hashable {
    var denied: [String] = []
    var readable: [String] = []
    var writable: [String] = []

    mutating func add(_ rules: [AccessControlList.Rule]) {
        for rule in rules {
            switch rule.access {
            case .deny: denied.append(rule.pattern)
            case .read: readable.append(rule.pattern)
            case .write: writable.append(rule.pattern)
            case .readwrite:
                readable.append(rule.pattern)
                writable.append(rule.pattern)
            }
        }
    }

    /// Whether the client may publish to `topic`.
    public func mayPublish(_ topic: String) -> Bool {
        Self.allows(writable, denied: denied, topic: topic)
    }

    /// Whether a message on `topic` may be delivered to the client.
    public func mayReceive(_ topic: String) -> Bool {
        Self.allows(readable, denied: denied, topic: topic)
    }

    /// Whether the client may subscribe to `filter` (without any `$share/NAME/` prefix): some read rule must
    /// cover every topic the filter matches, and no deny rule may cover it. Messages on denied topics below
    /// an allowed filter are held back one by one by `mayReceive`.
    public func maySubscribe(_ filter: String) -> Bool {
        if denied.contains(where: { Self.covers($0, filter) }) { return false }
        return readable.contains { Self.covers($0, filter) }
    }

    private static func allows(_ allowed: [String], denied: [String], topic: String) -> Bool {
        if denied.contains(where: { TopicFilter.matches(filter: $0, topic: topic) }) { return false }
        return allowed.contains { TopicFilter.matches(filter: $0, topic: topic) }
    }

    /// Whether every topic `filter` matches is also matched by `pattern`. Levels are compared as bytes
    /// (MQTT-4.7.3-4): a canonically equivalent level is another level.
    static func covers(_ pattern: String, _ filter: String) -> Bool {
        let patternLevels = pattern.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let filterLevels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let multiLevel = "#".utf8
        let singleLevel = "+".utf8
        // A wildcard at the first level does not match `$` topics (MQTT-4.7.2-1), so it cannot cover them.
        if let first = patternLevels.first, first.elementsEqual(multiLevel) || first.elementsEqual(singleLevel),
            filter.utf8.first == UInt8(ascii: "$")
        {
            return false
        }
        var index = 0
        while index < patternLevels.count {
            let level = patternLevels[index]
            if level.elementsEqual(multiLevel) { return true }
            guard index < filterLevels.count else { return false }
            let wanted = filterLevels[index]
            if wanted.elementsEqual(multiLevel) { return false }
            if !level.elementsEqual(singleLevel) && (wanted.elementsEqual(singleLevel) || !wanted.elementsEqual(level)) { return false }
            index += 1
        }
        return index == filterLevels.count
    }
}

extension StringProtocol {
    var trimmingWhitespace: SubSequence {
        guard let start = firstIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        let end = lastIndex(where: { !$0.isWhitespace })!
        return self[start...end]
    }
}
