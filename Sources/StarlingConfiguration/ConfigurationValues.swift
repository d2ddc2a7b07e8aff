import Configuration

/// The configuration's sources in precedence order (flags, then environment, then the file), read key by key.
struct ConfigurationValues: Sendable {
    let sources: [ConfigurationSource]

    /// The first source that sets `key`, with its value as `type`; a value that is not a `type` is an error
    /// naming the key and that source.
    func lookup(_ key: String, _ type: ConfigType, expected: String) throws -> (ConfigContent, ConfigurationSource)? {
        for source in sources {
            do {
                if let content = try source.value(key, type) { return (content, source) }
            } catch {
                let raw = (try? source.value(key, .string)).flatMap { content -> String? in
                    if case .string(let string) = content { return string }
                    return nil
                }
                throw ConfigurationError(
                    key: key, source: source.describe(key),
                    reason: "expected \(expected)" + (raw.map { ", got \"\($0)\"" } ?? ""))
            }
        }
        return nil
    }

    func source(of key: String) -> ConfigurationSource? {
        sources.first { source in
            [ConfigType.string, .int, .bool, .double].contains { (try? source.value(key, $0)) != nil }
        }
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let (content, source) = try lookup(key, .int, expected: expected) else { return nil }
        guard case .int(let value) = content, range.contains(value) else {
            throw ConfigurationError(key: key, source: source.describe(key), reason: "expected \(expected), got \(content.shown)")
        }
        return value
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        let expected = "a number from \(range.lowerBound) to \(range.upperBound)"
        guard let (content, source) = try lookup(key, .double, expected: expected) else { return nil }
        let value: Double
        switch content {
        case .double(let double): value = double
        case .int(let int): value = Double(int)
        default: throw ConfigurationError(key: key, source: source.describe(key), reason: "expected \(expected), got \(content.shown)")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, source: source.describe(key), reason: "expected \(expected), got \(content.shown)")
        }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let (content, source) = try lookup(key, .bool, expected: "true or false") else { return nil }
        guard case .bool(let value) = content else {
            throw ConfigurationError(key: key, source: source.describe(key), reason: "expected true or false")
        }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let (content, source) = try lookup(key, .string, expected: "a string") else { return nil }
        guard case .string(let value) = content else {
            throw ConfigurationError(key: key, source: source.describe(key), reason: "expected a string")
        }
        return value
    }

    func choice<Value>(_ key: String, _ table: [String: Value], names: [String]) throws -> Value? {
        let expected = "one of \(names.joined(separator: ", "))"
        guard let (content, source) = try lookup(key, .string, expected: expected) else { return nil }
        guard case .string(let name) = content, let value = table[name] else {
            throw ConfigurationError(key: key, source: source.describe(key), reason: "expected \(expected), got \(content.shown)")
        }
        return value
    }
}

extension ConfigContent {
    fileprivate var shown: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .bool(let value): "\(value)"
        default: "\(self)"
        }
    }
}
