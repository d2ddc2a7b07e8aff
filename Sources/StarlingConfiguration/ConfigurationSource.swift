import Configuration

/// One place settings come from: the file, STARLING_ environment variables, or command-line flags.
struct ConfigurationSource: Sendable {
    enum Kind: Sendable {
        /// With the line of each value, by dotted key.
        case file(path: String, lines: [String: Int])
        case environment
        case commandLine
    }

    let kind: Kind
    let snapshot: any ConfigSnapshot

    /// Names the source of `key` in messages, as a user would look for it.
    func describe(_ key: String) -> String {
        switch kind {
        case .file(let path, let lines): lines[key].map { "\(path) (line \($0))" } ?? path
        case .environment: "environment variable \(Self.environmentName(of: key))"
        case .commandLine: "command line"
        }
    }

    func value(_ key: String, _ type: ConfigType) throws -> ConfigContent? {
        try snapshot.value(forKey: AbsoluteConfigKey(key.split(separator: ".").map(String.init)), type: type).value?.content
    }

    static let environmentPrefix = "STARLING_"

    /// `listeners.web-socket.max_connections` → `STARLING_LISTENERS_WEB_SOCKET_MAX_CONNECTIONS`, the name
    /// swift-configuration's environment provider looks up once the prefix is removed.
    static func environmentName(of key: String) -> String {
        environmentPrefix + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }
}
