import MQTT
import NIOSSL
import StarlingBridge
import StarlingClient
import Yams

/// A bridge of the configuration file, by its name.
public struct NamedBridge: Sendable {
    public var name: String
    public var configuration: BridgeConfiguration
}

/// The `bridges` section, read straight from the YAML document: its lists (addresses, topics) and nested rules
/// are not settings that an environment variable or a flag could give. Unknown keys and bad values stop the
/// broker with the file and the line, as everywhere else.
enum BridgeSettings {
    static let keys: Set<String> = [
        "addresses", "client_id", "username", "password", "protocol_version", "keep_alive", "clean_start", "session_expiry",
        "tls", "topics", "retry_delay_ms", "max_retry_delay_ms", "local_session_expiry", "local_username", "local_password",
    ]
    static let tlsKeys: Set<String> = ["ca", "certificate", "key", "verify"]
    static let topicKeys: Set<String> = ["pattern", "direction", "qos", "local_prefix", "remote_prefix"]

    static func parse(_ node: Node, file: String) throws -> [NamedBridge] {
        guard case .mapping(let bridges) = node else { throw error(file, "bridges", node, "expected a mapping from bridge names to their settings") }
        var parsed: [NamedBridge] = []
        for (nameNode, settings) in bridges {
            let name = try scalar(nameNode, "bridges.?", file)
            guard ConfigurationSchema.isValidListenerName(name) else {
                throw error(file, "bridges.\(name)", nameNode, "bridge names use a-z, 0-9, - and _ only")
            }
            parsed.append(NamedBridge(name: name, configuration: try bridge(settings, path: "bridges.\(name)", name: name, file: file)))
        }
        return parsed
    }

    private static func bridge(_ node: Node, path: String, name: String, file: String) throws -> BridgeConfiguration {
        let fields = try mapping(node, path, keys, file)
        guard let addressesNode = fields["addresses"] else { throw error(file, path + ".addresses", node, "a bridge needs the remote's addresses") }
        var addresses: [MQTTURL] = []
        for item in try list(addressesNode, path + ".addresses", file) {
            let text = try scalar(item, path + ".addresses", file)
            do {
                addresses.append(try MQTTURL(text))
            } catch {
                throw Self.error(file, path + ".addresses", item, "not an mqtt://, mqtts://, ws:// or wss:// address: \"\(text)\"")
            }
        }
        guard let topicsNode = fields["topics"] else { throw error(file, path + ".topics", node, "a bridge needs at least one topic rule") }
        var topics: [BridgeTopicRule] = []
        for item in try list(topicsNode, path + ".topics", file) {
            topics.append(try rule(item, path: path + ".topics", file: file))
        }
        var configuration = BridgeConfiguration(
            addresses: addresses, clientIdentifier: try fields["client_id"].map { try scalar($0, path + ".client_id", file) } ?? name,
            topics: topics)
        configuration.userName = try fields["username"].map { try scalar($0, path + ".username", file) }
        configuration.password = try fields["password"].map { try scalar($0, path + ".password", file) }
        configuration.localUserName = try fields["local_username"].map { try scalar($0, path + ".local_username", file) }
        configuration.localPassword = try fields["local_password"].map { try scalar($0, path + ".local_password", file) }
        if let version = fields["protocol_version"] {
            switch try scalar(version, path + ".protocol_version", file) {
            case "5", "5.0", "mqttv5": configuration.protocolVersion = .v5
            case "3.1.1", "311", "4", "mqttv311": configuration.protocolVersion = .v3_1_1
            case let other: throw error(file, path + ".protocol_version", version, "expected \"5\" or \"3.1.1\", got \"\(other)\"")
            }
        }
        if let value = fields["keep_alive"] { configuration.keepAlive = UInt16(try integer(value, path + ".keep_alive", 0...65_535, file)) }
        if let value = fields["clean_start"] { configuration.cleanStart = try bool(value, path + ".clean_start", file) }
        if let value = fields["session_expiry"] {
            configuration.sessionExpiry = UInt32(try integer(value, path + ".session_expiry", 0...Int(UInt32.max), file))
        }
        if let value = fields["local_session_expiry"] {
            configuration.localSessionExpiry = UInt32(try integer(value, path + ".local_session_expiry", 1...Int(UInt32.max), file))
        }
        if let value = fields["retry_delay_ms"] {
            configuration.retryDelay = .milliseconds(Int64(try integer(value, path + ".retry_delay_ms", 1...3_600_000, file)))
        }
        if let value = fields["max_retry_delay_ms"] {
            configuration.maximumRetryDelay = .milliseconds(Int64(try integer(value, path + ".max_retry_delay_ms", 1...3_600_000, file)))
        }
        if let tlsNode = fields["tls"] { configuration.tls = try tls(tlsNode, path: path + ".tls", file: file) }
        return configuration
    }

    private static func rule(_ node: Node, path: String, file: String) throws -> BridgeTopicRule {
        let fields = try mapping(node, path, topicKeys, file)
        guard let patternNode = fields["pattern"] else { throw error(file, path + ".pattern", node, "a topic rule needs a pattern") }
        var rule = BridgeTopicRule(pattern: try scalar(patternNode, path + ".pattern", file), direction: .out)
        if let direction = fields["direction"] {
            let text = try scalar(direction, path + ".direction", file)
            guard let parsed = BridgeDirection(rawValue: text) else {
                throw error(file, path + ".direction", direction, "expected one of out, in, both, got \"\(text)\"")
            }
            rule.direction = parsed
        }
        if let qos = fields["qos"] { rule.qos = QoS(rawValue: UInt8(try integer(qos, path + ".qos", 0...2, file)))! }
        if let prefix = fields["local_prefix"] { rule.localPrefix = try scalar(prefix, path + ".local_prefix", file) }
        if let prefix = fields["remote_prefix"] { rule.remotePrefix = try scalar(prefix, path + ".remote_prefix", file) }
        do {
            try rule.validate()
        } catch {
            throw Self.error(file, path + ".pattern", patternNode, "\"\(rule.localFilter)\" / \"\(rule.remoteFilter)\" is not a valid topic filter")
        }
        return rule
    }

    private static func tls(_ node: Node, path: String, file: String) throws -> TLSConfiguration {
        let fields = try mapping(node, path, tlsKeys, file)
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let ca = fields["ca"] {
            let path = try scalar(ca, path + ".ca", file)
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw Self.error(file, "\(path).ca", ca, "cannot read PEM certificates from \(path): \(error)")
            }
        }
        switch (fields["certificate"], fields["key"]) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            let identity = try PEMServerIdentity(
                certificate: try scalar(certificate, path + ".certificate", file), privateKey: try scalar(key, path + ".key", file),
                certificateKey: path + ".certificate", privateKeyKey: path + ".key"
            ) { key, reason in error(file, key, certificate, reason) }
            configuration.certificateChain = identity.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.key)
        case (nil, let key?):
            throw error(file, path + ".key", key, "needs \(path).certificate, the client certificate (PEM)")
        case (let certificate?, nil):
            throw error(file, path + ".certificate", certificate, "needs \(path).key, the certificate's private key (PEM)")
        }
        if let verify = fields["verify"], try !bool(verify, path + ".verify", file) { configuration.certificateVerification = .none }
        return configuration
    }

    // MARK: Nodes

    private static func mapping(_ node: Node, _ path: String, _ known: Set<String>, _ file: String) throws -> [String: Node] {
        guard case .mapping(let mapping) = node else { throw error(file, path, node, "expected a mapping of keys to values") }
        var fields: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = try scalar(keyNode, path + ".?", file)
            guard known.contains(key) else { throw error(file, path + "." + key, keyNode, "unknown key") }
            fields[key] = value
        }
        return fields
    }

    /// A list, or one value standing for a list of one.
    private static func list(_ node: Node, _ path: String, _ file: String) throws -> [Node] {
        switch node {
        case .sequence(let sequence): return Array(sequence)
        case .scalar: return [node]
        default: throw error(file, path, node, "expected a list")
        }
    }

    private static func scalar(_ node: Node, _ path: String, _ file: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error(file, path, node, "expected a single value") }
        return scalar.string
    }

    private static func integer(_ node: Node, _ path: String, _ range: ClosedRange<Int>, _ file: String) throws -> Int {
        let text = try scalar(node, path, file)
        guard let value = Int(text), range.contains(value) else {
            throw error(file, path, node, "expected an integer from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    private static func bool(_ node: Node, _ path: String, _ file: String) throws -> Bool {
        switch try scalar(node, path, file) {
        case "true": return true
        case "false": return false
        case let other: throw error(file, path, node, "expected true or false, got \"\(other)\"")
        }
    }

    private static func error(_ file: String, _ key: String, _ node: Node, _ reason: String) -> ConfigurationError {
        let location = node.mark.map { " (line \($0.line))" } ?? ""
        return ConfigurationError(key: key, source: file + location, reason: reason)
    }
}
