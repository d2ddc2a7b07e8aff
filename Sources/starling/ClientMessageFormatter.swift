import Foundation
import NIOCore
import StarlingClient

/// Renders received messages the way mosquitto_sub prints them: the payload alone, `-v` (topic and payload),
/// `-F` format strings, or JSON.
struct ClientMessageFormatter {
    enum Style {
        case payload
        case verbose
        case format(String)
        case json
    }

    private enum Token {
        case literal([UInt8])
        case field(Character, Spec)
        case time(Character)
    }

    /// The flags, width and precision of a `%` field.
    private struct Spec {
        var leftAligned = false
        var zeroPadded = false
        var width = 0
        var precision: Int?
    }

    private let style: Style
    private let tokens: [Token]
    private let endOfLine: Bool
    /// --pretty: JSON laid out as mosquitto_sub's --pretty lays it out.
    private let prettyJSON: Bool

    init(style: Style, endOfLine: Bool, prettyJSON: Bool = false) {
        self.style = style
        self.endOfLine = endOfLine
        self.prettyJSON = prettyJSON
        if case .format(let format) = style { tokens = Self.parse(format) } else { tokens = [] }
    }

    /// The bytes to print for `message` received at `time`, or nil when nothing is printed (mosquitto_sub
    /// prints nothing for an empty payload without -v).
    func render(_ message: MQTTMessage, at time: timespec) -> [UInt8]? {
        var out: [UInt8] = []
        switch style {
        case .payload:
            guard message.payload.readableBytes > 0 else { return nil }
            out += message.payload.readableBytesView
        case .verbose:
            out += Array(message.topic.utf8)
            if message.payload.readableBytes > 0 {
                out.append(UInt8(ascii: " "))
                out += message.payload.readableBytesView
            } else {
                out += Array(" (null)".utf8)
            }
        case .json:
            out += laidOut(Self.json(message, at: time, rawPayload: false) ?? [])
        case .format:
            for token in tokens { render(token, message: message, time: time, into: &out) }
        }
        if endOfLine { out.append(UInt8(ascii: "\n")) }
        return out
    }

    // MARK: Format strings

    private static func parse(_ format: String) -> [Token] {
        var tokens: [Token] = []
        var literal: [UInt8] = []
        var characters = Array(format)[...]
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(literal)) }
            literal = []
        }
        while let character = characters.popFirst() {
            switch character {
            case "%":
                var spec = Spec()
                if characters.first == "-" { spec.leftAligned = true; characters.removeFirst() }
                if characters.first == "0" { spec.zeroPadded = true; characters.removeFirst() }
                while let digit = characters.first?.wholeNumberValue { spec.width = spec.width * 10 + digit; characters.removeFirst() }
                if characters.first == "." {
                    characters.removeFirst()
                    var precision = 0
                    while let digit = characters.first?.wholeNumberValue { precision = precision * 10 + digit; characters.removeFirst() }
                    spec.precision = precision
                }
                guard let field = characters.popFirst() else { break }
                flush()
                tokens.append(.field(field, spec))
            case "@":
                guard let field = characters.popFirst() else { break }
                if field == "@" {
                    literal.append(UInt8(ascii: "@"))
                } else {
                    flush()
                    tokens.append(.time(field))
                }
            case "\\":
                guard let escaped = characters.popFirst() else { break }
                switch escaped {
                case "\\": literal.append(UInt8(ascii: "\\"))
                case "0": literal.append(0)
                case "a": literal.append(0x07)
                case "e": literal.append(0x1B)
                case "n": literal.append(UInt8(ascii: "\n"))
                case "r": literal.append(UInt8(ascii: "\r"))
                case "t": literal.append(UInt8(ascii: "\t"))
                case "v": literal.append(0x0B)
                default: break
                }
            default:
                literal += Array(String(character).utf8)
            }
        }
        flush()
        return tokens
    }

    private func render(_ token: Token, message: MQTTMessage, time: timespec, into out: inout [UInt8]) {
        switch token {
        case .literal(let bytes):
            out += bytes
        case .time(let field):
            if field == "N" {
                out += Array(Self.zeroPadded(Int(time.tv_nsec), width: 9).utf8)
            } else {
                out += Array(Self.strftime("%\(field)", time).utf8)
            }
        case .field(let field, let spec):
            let properties = message.properties
            switch field {
            case "%": out.append(UInt8(ascii: "%"))
            case "A": out += Self.number(properties.topicAlias.map(Int.init), spec)
            case "C": out += Self.text(properties.contentType, spec)
            case "D": out += properties.correlationData.map { Array($0.readableBytesView) } ?? []
            case "E": out += Self.number(properties.messageExpiryInterval.map(Int.init), spec)
            case "F": out += Self.number(properties.payloadFormatIndicator.map(Int.init), spec)
            case "I": out += Self.text(Self.strftime("%Y-%m-%dT%H:%M:%S%z", time), spec)
            case "j": out += laidOut(Self.json(message, at: time, rawPayload: false) ?? [])
            case "J":
                if let json = Self.json(message, at: time, rawPayload: true) {
                    out += laidOut(json)
                } else {
                    ClientExit.printError("Error: Message payload is not valid JSON on topic \(message.topic).")
                }
            case "l": out += Self.number(message.payload.readableBytes, spec)
            // %i is taken as another name for %m, the message (packet) identifier.
            case "m", "i": out += Self.number(Int(message.packetIdentifier ?? 0), spec)
            case "P": out += Array(properties.userProperties.map { "\($0.key):\($0.value)" }.joined(separator: " ").utf8)
            case "p": out += Self.padded(Array(message.payload.readableBytesView), spec, numeric: false)
            case "q": out += Array("\(message.qos.rawValue)".utf8)
            case "R": out += Self.text(properties.responseTopic, spec)
            case "r": out += Array((message.retain ? "1" : "0").utf8)
            case "S": out += Self.number(properties.subscriptionIdentifiers.first, spec)
            case "t": out += Self.text(message.topic, spec)
            case "U": out += Array("\(time.tv_sec).\(Self.zeroPadded(Int(time.tv_nsec), width: 9))".utf8)
            case "x", "X":
                let hex = message.payload.readableBytesView.map { byte -> String in
                    let digits = String(byte, radix: 16, uppercase: field == "X")
                    return digits.count == 1 ? "0" + digits : digits
                }.joined()
                out += Self.padded(Array(hex.utf8), spec, numeric: true)
            default:
                break
            }
        }
    }

    private static func number(_ value: Int?, _ spec: Spec) -> [UInt8] {
        guard let value else { return Array(repeating: spec.zeroPadded ? UInt8(ascii: "0") : UInt8(ascii: " "), count: spec.width) }
        return padded(Array(String(value).utf8), spec, numeric: true)
    }

    private static func text(_ value: String?, _ spec: Spec) -> [UInt8] {
        padded(Array((value ?? "").utf8), spec, numeric: false)
    }

    private static func padded(_ bytes: [UInt8], _ spec: Spec, numeric: Bool) -> [UInt8] {
        var bytes = bytes
        if let precision = spec.precision, !numeric, bytes.count > precision { bytes = Array(bytes.prefix(precision)) }
        guard bytes.count < spec.width else { return bytes }
        let fill = Array(repeating: numeric && spec.zeroPadded && !spec.leftAligned ? UInt8(ascii: "0") : UInt8(ascii: " "), count: spec.width - bytes.count)
        return spec.leftAligned ? bytes + fill : fill + bytes
    }

    private static func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func strftime(_ format: String, _ time: timespec) -> String {
        var seconds = time.tv_sec
        var local = tm()
        localtime_r(&seconds, &local)
        var buffer = [CChar](repeating: 0, count: 128)
        let count = Foundation.strftime(&buffer, buffer.count, format, &local)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: JSON

    /// The message as one JSON object, as mosquitto_sub's %j prints it (%J with `rawPayload`, which needs a
    /// payload that is JSON itself; nil when it is not).
    static func json(_ message: MQTTMessage, at time: timespec, rawPayload: Bool) -> [UInt8]? {
        let timestamp = strftime("%Y-%m-%dT%H:%M:%S", time) + "." + zeroPadded(Int(time.tv_nsec) / 1000, width: 6)
            + strftime("%z", time)
        var fields: [(String, String)] = [
            ("tst", quoted(timestamp)), ("topic", quoted(message.topic)), ("qos", "\(message.qos.rawValue)"),
            ("retain", message.retain ? "1" : "0"), ("payloadlen", "\(message.payload.readableBytes)"),
        ]
        if message.qos != .atMostOnce { fields.append(("mid", "\(message.packetIdentifier ?? 0)")) }
        let properties = jsonProperties(message.properties)
        if !properties.isEmpty { fields.append(("properties", "{" + properties.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}")) }
        let payload = Array(message.payload.readableBytesView)
        if rawPayload {
            guard (try? JSONSerialization.jsonObject(with: Data(payload), options: [.fragmentsAllowed])) != nil else { return nil }
            fields.append(("payload", String(decoding: payload, as: UTF8.self)))
        } else if let text = String(validating: payload, as: UTF8.self), !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) {
            fields.append(("payload", quoted(text)))
        } else {
            fields.append(("payload", "[" + payload.map(String.init).joined(separator: ",") + "]"))
        }
        return Array(("{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}").utf8)
    }

    /// `json` as it is, or with --pretty as mosquitto_sub (cJSON) lays it out: each member of an object on a line
    /// of its own, indented by tabs, a tab after each colon; arrays on one line, their elements after ", ".
    private func laidOut(_ json: [UInt8]) -> [UInt8] {
        guard prettyJSON else { return json }
        var out: [UInt8] = []
        out.reserveCapacity(json.count * 2)
        var containers: [UInt8] = []
        var inString = false
        var escaped = false
        func newLine() {
            out.append(UInt8(ascii: "\n"))
            out += repeatElement(UInt8(ascii: "\t"), count: containers.count)
        }
        for byte in json {
            if inString {
                out.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                out.append(byte)
            case UInt8(ascii: "{"):
                out.append(byte)
                containers.append(byte)
                newLine()
            case UInt8(ascii: "["):
                out.append(byte)
                containers.append(byte)
            case UInt8(ascii: "}"):
                containers.removeLast()
                newLine()
                out.append(byte)
            case UInt8(ascii: "]"):
                containers.removeLast()
                out.append(byte)
            case UInt8(ascii: ","):
                out.append(byte)
                if containers.last == UInt8(ascii: "{") { newLine() } else { out.append(UInt8(ascii: " ")) }
            case UInt8(ascii: ":") where containers.last == UInt8(ascii: "{"):
                out += [byte, UInt8(ascii: "\t")]
            default:
                out.append(byte)
            }
        }
        return out
    }

    private static func jsonProperties(_ properties: Properties) -> [(String, String)] {
        var fields: [(String, String)] = []
        if let value = properties.payloadFormatIndicator { fields.append(("payload-format-indicator", "\(value)")) }
        if let value = properties.messageExpiryInterval { fields.append(("message-expiry-interval", "\(value)")) }
        if let value = properties.contentType { fields.append(("content-type", quoted(value))) }
        if let value = properties.responseTopic { fields.append(("response-topic", quoted(value))) }
        if let value = properties.correlationData { fields.append(("correlation-data", quoted(String(buffer: value)))) }
        if let value = properties.subscriptionIdentifiers.first { fields.append(("subscription-identifier", "\(value)")) }
        if let value = properties.topicAlias { fields.append(("topic-alias", "\(value)")) }
        let user = properties.userProperties
        if !user.isEmpty { fields.append(("user-properties", "{" + user.map { "\(quoted($0.key)):\(quoted($0.value))" }.joined(separator: ",") + "}")) }
        return fields
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
