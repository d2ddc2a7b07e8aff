/// A broker address in the URL forms MQTT.js accepts: `mqtt://user:pass@host:1883`, `mqtts://host`,
/// `ws://host:8080/mqtt`, `wss://host/path` (and the aliases `tcp`, `ssl`, `tls`).
public struct MQTTURL: Sendable, Hashable {
    /// How the client reaches the broker: plain TCP, TLS, WebSocket, or WebSocket over TLS.
    public enum Scheme: String, Sendable, Hashable {
        /// `mqtt` (alias `tcp`): TCP, port 1883 by default; `mqtts` (`ssl`, `tls`): TLS, 8883; `ws`: WebSocket, 80;
        /// `wss`: WebSocket over TLS, 443.
        case mqtt, mqtts, ws, wss

        init?(name: Substring) {
            switch name.lowercased() {
            case "mqtt", "tcp": self = .mqtt
            case "mqtts", "ssl", "tls": self = .mqtts
            case "ws": self = .ws
            case "wss": self = .wss
            default: return nil
            }
        }

        /// Whether the connection is encrypted: `mqtts` and `wss`.
        public var usesTLS: Bool { self == .mqtts || self == .wss }
        /// Whether MQTT is carried in WebSocket frames: `ws` and `wss`.
        public var usesWebSocket: Bool { self == .ws || self == .wss }
    }

    /// The transport the URL names.
    public var scheme: Scheme
    /// The user name of the URL's user info, percent-decoded; sent in CONNECT.
    public var userName: String?
    /// The password of the URL's user info, percent-decoded; sent in CONNECT.
    public var password: String?
    /// The host name or IP address; an IPv6 address without its brackets.
    public var host: String
    /// The port, if the URL gives one; nil means the scheme's default.
    public var port: Int?
    /// The path, percent-decoded, starting with `/`; empty when the URL has none.
    public var path: String

    /// Parses `string`; throws `MQTTClientError` with code `.invalidConfiguration` for an unknown scheme, a missing
    /// host, a bad port or bad percent-encoding. A query or fragment is ignored.
    public init(_ string: String) throws {
        func invalid(_ why: String) -> MQTTClientError {
            MQTTClientError(.invalidConfiguration, "invalid broker URL '\(string)': \(why)")
        }
        guard let separator = string.firstRange(of: "://") else { throw invalid("expected scheme://host") }
        guard let scheme = Scheme(name: string[..<separator.lowerBound]) else {
            throw invalid("unknown scheme (expected mqtt, mqtts, ws or wss)")
        }
        self.scheme = scheme
        var rest = string[separator.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            guard let decoded = Self.percentDecoded(rest[slash...]) else { throw invalid("bad percent-encoding in path") }
            path = decoded
        } else {
            authority = rest
            path = ""
        }
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            let user: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                guard let decoded = Self.percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                    throw invalid("bad percent-encoding in password")
                }
                password = decoded
            } else {
                user = userInfo
            }
            guard let decoded = Self.percentDecoded(user) else { throw invalid("bad percent-encoding in user name") }
            userName = decoded
        }
        var portText: Substring?
        if hostPort.first == "[" {
            // An IPv6 literal: [::1]:1883.
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw invalid("unexpected text after IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw invalid("missing host") }
        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else { throw invalid("bad port '\(portText)'") }
            self.port = port
        }
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension MQTTClientConfiguration {
    /// A configuration for the broker at `url` (see `MQTTURL`). The path of a `ws://` or `wss://` URL is the
    /// WebSocket path (`/` when absent, as in MQTT.js); user name and password come from the URL's user info.
    public init(url: String, clientIdentifier: String = MQTTClientConfiguration.randomClientIdentifier()) throws {
        let parsed = try MQTTURL(url)
        let transport: Transport = parsed.scheme.usesWebSocket ? .webSocket(path: parsed.path.isEmpty ? "/" : parsed.path) : .tcp
        self.init(
            host: parsed.host, port: parsed.port, transport: transport,
            tls: parsed.scheme.usesTLS ? .makeClientConfiguration() : nil, clientIdentifier: clientIdentifier,
            userName: parsed.userName, password: parsed.password)
    }
}
