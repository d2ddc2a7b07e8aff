import Configuration
import NIOCore

/// One key of the configuration and where its value goes in `Root`, checked on the way.
///
/// Adding a setting is adding one line to a table of these (see `ServerConfiguration.settings`).
struct Setting<Root>: Sendable {
    /// The dotted key relative to `Root`'s section.
    let key: String
    let apply: @Sendable (ConfigurationValues, String, inout Root) throws -> Void

    static func int(
        _ key: String, _ path: WritableKeyPath<Root, Int> & Sendable, in range: ClosedRange<Int> = 0...Int.max
    ) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.int(fullKey, in: range) { root[keyPath: path] = value }
        }
    }

    /// A number whose absence means no limit.
    static func optionalInt(_ key: String, _ path: WritableKeyPath<Root, Int?> & Sendable, in range: ClosedRange<Int>) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.int(fullKey, in: range) { root[keyPath: path] = value }
        }
    }

    /// A rate or another fractional number; nil (the key's absence) leaves the default.
    static func double(_ key: String, _ path: WritableKeyPath<Root, Double?> & Sendable, in range: ClosedRange<Double>) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.double(fullKey, in: range) { root[keyPath: path] = value }
        }
    }

    static func uint16(_ key: String, _ path: WritableKeyPath<Root, UInt16> & Sendable, in range: ClosedRange<Int> = 0...65_535) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.int(fullKey, in: range) { root[keyPath: path] = UInt16(value) }
        }
    }

    static func seconds(_ key: String, _ path: WritableKeyPath<Root, TimeAmount> & Sendable, in range: ClosedRange<Int> = 1...86_400) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.int(fullKey, in: range) { root[keyPath: path] = .seconds(Int64(value)) }
        }
    }

    /// Seconds, where 0 turns the feature off (nil).
    static func seconds(_ key: String, _ path: WritableKeyPath<Root, TimeAmount?> & Sendable, in range: ClosedRange<Int> = 0...86_400) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.int(fullKey, in: range) { root[keyPath: path] = value == 0 ? nil : .seconds(Int64(value)) }
        }
    }

    static func bool(_ key: String, _ path: WritableKeyPath<Root, Bool> & Sendable) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.bool(fullKey) { root[keyPath: path] = value }
        }
    }

    static func string(_ key: String, _ path: WritableKeyPath<Root, String?> & Sendable) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.string(fullKey) { root[keyPath: path] = value }
        }
    }

    static func string(_ key: String, _ path: WritableKeyPath<Root, String> & Sendable) -> Setting {
        Setting(key: key) { values, fullKey, root in
            if let value = try values.string(fullKey) { root[keyPath: path] = value }
        }
    }

    /// A value from a fixed list of names.
    static func choice<Value: Sendable>(
        _ key: String, _ path: WritableKeyPath<Root, Value> & Sendable, _ choices: KeyValuePairs<String, Value>
    ) -> Setting {
        let names = choices.map(\.key)
        let table = Dictionary(choices.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        return Setting(key: key) { values, fullKey, root in
            if let value = try values.choice(fullKey, table, names: names) { root[keyPath: path] = value }
        }
    }
}
