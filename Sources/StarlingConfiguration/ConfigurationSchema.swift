import Yams

/// The keys a configuration file may contain, checked before any value is read: swift-configuration looks up
/// the keys it is asked for and never sees a misspelt one, which would otherwise be ignored in silence.
struct ConfigurationSchema: Sendable {
    let topLevelKeys: Set<String>
    let listenerKeys: Set<String>

    static let starling = ConfigurationSchema(
        topLevelKeys: Set(ServerConfiguration.settings.map(\.key)),
        listenerKeys: Set(ListenerSettings.settings.map(\.key)))

    /// Listener names become parts of keys and environment variable names.
    static func isValidListenerName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }

    /// Checks every key of the document and returns the listener names in the order the file gives them, and
    /// the line each value is on, by dotted key, so that a value refused later can say where it is.
    func validate(_ root: Node, file: String) throws -> (listeners: [String], lines: [String: Int]) {
        var lines: [String: Int] = [:]
        guard case .mapping(let mapping) = root else {
            throw ConfigurationError(key: "(top level)", source: file, reason: "expected a mapping of keys to values")
        }
        var listeners: [String] = []
        for (keyNode, value) in mapping {
            let key = try name(of: keyNode, path: "", file: file)
            if key == "bridges" {
                // Read, and checked, by `BridgeSettings`.
                continue
            } else if key == "listeners" {
                guard case .mapping(let listenerMapping) = value else {
                    throw error(file, key, value, "expected a mapping from listener names to their settings")
                }
                for (nameNode, settings) in listenerMapping {
                    let listener = try name(of: nameNode, path: "listeners.", file: file)
                    guard Self.isValidListenerName(listener) else {
                        throw error(file, "listeners.\(listener)", nameNode, "listener names use a-z, 0-9, - and _ only")
                    }
                    listeners.append(listener)
                    try validateLeaves(
                        settings, path: "listeners.\(listener)", relative: "", known: listenerKeys, file: file, lines: &lines)
                }
            } else {
                try validateLeaves(value, path: key, relative: key, known: topLevelKeys, file: file, lines: &lines)
            }
        }
        return (listeners, lines)
    }

    private func validateLeaves(
        _ node: Node, path: String, relative: String, known: Set<String>, file: String, lines: inout [String: Int]
    ) throws {
        if case .mapping(let mapping) = node {
            let isSection = known.contains { $0.hasPrefix(relative.isEmpty ? "" : relative + ".") }
            guard isSection else {
                if known.contains(relative) { throw error(file, path, node, "expected a single value, not a mapping") }
                throw error(file, path, node, "unknown key")
            }
            for (keyNode, value) in mapping {
                let key = try name(of: keyNode, path: path + ".", file: file)
                let nextRelative = relative.isEmpty ? key : relative + "." + key
                try validateLeaves(
                    value, path: path + "." + key, relative: nextRelative, known: known, file: file, lines: &lines)
            }
            return
        }
        guard known.contains(relative) else { throw error(file, path, node, "unknown key") }
        if case .sequence = node { throw error(file, path, node, "expected a single value, not a list") }
        if let mark = node.mark { lines[path] = mark.line }
    }

    private func name(of node: Node, path: String, file: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error(file, path + "?", node, "keys must be plain names") }
        return scalar.string
    }

    private func error(_ file: String, _ key: String, _ node: Node, _ reason: String) -> ConfigurationError {
        let location = node.mark.map { " (line \($0.line))" } ?? ""
        return ConfigurationError(key: key, source: file + location, reason: reason)
    }
}
