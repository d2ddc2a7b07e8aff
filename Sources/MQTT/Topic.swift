/// Limits a receiver applies to topic names and filters beyond the specification's 65,535 bytes.
public struct TopicLimits: Sendable, Hashable {
    /// The most UTF-8 bytes in a topic name or filter.
    public var maximumLength: Int
    /// The most levels (separated by `/`) in a topic name or filter.
    public var maximumLevels: Int

    /// Limits a receiver chooses; by default a bound of 128 levels besides the specification's 65,535 bytes.
    public init(maximumLength: Int = 65_535, maximumLevels: Int = 128) {
        self.maximumLength = maximumLength
        self.maximumLevels = maximumLevels
    }

    /// Only what the specification itself requires: 65,535 bytes, any number of levels.
    public static let specification = TopicLimits(maximumLength: 65_535, maximumLevels: Int.max)
}

/// Topic name rules (section 4.7 of both specifications).
public enum TopicName {
    /// Checks a topic name of a PUBLISH or will: non-empty, no wildcards (MQTT-3.3.2-2, MQTT-4.7.3-1), within `limits`.
    public static func validate(_ name: String, limits: TopicLimits = .specification) throws {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= limits.maximumLength else { throw MQTTError(.invalidTopicName) }
        // Every PUBLISH is checked: over the string's own bytes where it has them (it nearly always does), a
        // tenth of the instructions of going through the UTF-8 view.
        let valid = utf8.withContiguousStorageIfAvailable { isValid($0, maximumLevels: limits.maximumLevels) }
            ?? isValid(utf8, maximumLevels: limits.maximumLevels)
        guard valid else { throw MQTTError(.invalidTopicName) }
    }

    private static func isValid(_ bytes: some Collection<UInt8>, maximumLevels: Int) -> Bool {
        var levels = 1
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "+"), UInt8(ascii: "#"): return false
            case UInt8(ascii: "/"):
                levels += 1
                if levels > maximumLevels { return false }
            default: break
            }
        }
        return true
    }
}

/// A validated topic filter, with the share name of a `$share/{ShareName}/{filter}` shared subscription split off.
public struct TopicFilter: Sendable, Hashable, CustomStringConvertible {
    /// The filter as the client sent it.
    public let rawValue: String
    /// The share name of a shared subscription, or nil.
    public let shareName: String?
    /// The filter that topics are matched against (without `$share/{ShareName}/`).
    public let filter: String

    /// Parses and validates `rawValue` (MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.3-1, MQTT-4.8.2-1, MQTT-4.8.2-2).
    public init(_ rawValue: String, limits: TopicLimits = .specification) throws {
        self.rawValue = rawValue
        if rawValue.utf8.starts(with: "$share/".utf8) {
            let rest = rawValue.utf8.dropFirst(7)
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { throw MQTTError(.invalidTopicFilter) }
            let share = Substring(rawValue.utf8[rest.startIndex..<slash])
            guard !share.isEmpty, !share.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") })
            else { throw MQTTError(.invalidTopicFilter) }
            shareName = String(share)
            filter = String(Substring(rawValue.utf8[rawValue.utf8.index(after: slash)...]))
        } else {
            shareName = nil
            filter = rawValue
        }
        try Self.validateFilter(filter, limits: limits)
    }

    /// A filter the broker has already validated (one it holds as a subscription's key): splits the share name
    /// off again without checking the wildcard rules a second time.
    package init(validated rawValue: String) {
        self.rawValue = rawValue
        if rawValue.utf8.starts(with: "$share/".utf8), let slash = rawValue.utf8.dropFirst(7).firstIndex(of: UInt8(ascii: "/")) {
            shareName = String(Substring(rawValue.utf8[rawValue.utf8.index(rawValue.utf8.startIndex, offsetBy: 7)..<slash]))
            filter = String(Substring(rawValue.utf8[rawValue.utf8.index(after: slash)...]))
        } else {
            shareName = nil
            filter = rawValue
        }
    }

    /// Filters are equal when their bytes are (MQTT-4.7.3-4), not when they are canonically equivalent text.
    public static func == (lhs: TopicFilter, rhs: TopicFilter) -> Bool {
        lhs.rawValue.hasSameBytes(as: rhs.rawValue)
    }

    /// Hashes the bytes, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        rawValue.hashBytes(into: &hasher)
    }

    /// Whether this is a shared subscription, `$share/{group}/{filter}`.
    public var isShared: Bool { shareName != nil }
    /// Whether the filter (without its share prefix) contains `+` or `#`.
    public var hasWildcards: Bool { filter.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") } }
    /// The filter as the client sent it, share prefix included.
    public var description: String { rawValue }

    /// Checks the wildcard rules of a filter without a share prefix.
    public static func validateFilter(_ filter: String, limits: TopicLimits = .specification) throws {
        let utf8 = filter.utf8
        guard !utf8.isEmpty, utf8.count <= limits.maximumLength else { throw MQTTError(.invalidTopicFilter) }
        var levels = 1
        var levelStart = true
        var previous: UInt8 = 0
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            utf8.formIndex(after: &index)
            switch byte {
            case UInt8(ascii: "/"):
                levels += 1
                if levels > limits.maximumLevels { throw MQTTError(.invalidTopicFilter) }
                levelStart = true
                previous = byte
                continue
            case UInt8(ascii: "+"):
                // A single-level wildcard occupies a whole level.
                guard levelStart, index == utf8.endIndex || utf8[index] == UInt8(ascii: "/") else {
                    throw MQTTError(.invalidTopicFilter)
                }
            case UInt8(ascii: "#"):
                // The multi-level wildcard occupies a whole level and is the last character.
                guard levelStart, index == utf8.endIndex else { throw MQTTError(.invalidTopicFilter) }
            default:
                break
            }
            levelStart = false
            previous = byte
        }
        _ = previous
    }

    /// Whether `topic` matches this filter, including the rule that wildcards at the first level do not match
    /// topics beginning with `$` (MQTT-4.7.2-1).
    public func matches(_ topic: String) -> Bool {
        Self.matches(filter: filter, topic: topic)
    }

    /// Whether `topic` matches `filter` (a filter without a share prefix), with the `$` rule of `matches(_:)`.
    public static func matches(filter: String, topic: String) -> Bool {
        var f = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).makeIterator()
        var t = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).makeIterator()
        if topic.utf8.first == UInt8(ascii: "$"), let first = filter.utf8.first,
            first == UInt8(ascii: "+") || first == UInt8(ascii: "#")
        {
            return false
        }
        while true {
            let fl = f.next()
            let tl = t.next()
            switch (fl, tl) {
            case (nil, nil): return true
            case (let fl?, _) where fl.elementsEqual("#".utf8): return true
            case (let fl?, _?) where fl.elementsEqual("+".utf8): continue
            case (let fl?, let tl?): if !fl.elementsEqual(tl) { return false }
            default: return false
            }
        }
    }
}
