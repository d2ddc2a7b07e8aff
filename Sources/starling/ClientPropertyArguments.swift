import ArgumentParser
import NIOCore
import StarlingClient

/// MQTT 5.0 properties given as mosquitto's `-D command identifier value` (or `… name value` for user-property).
///
/// Every `-D` lands in one flat list of words; the command and identifier words say how many values follow,
/// which is enough to split the list again.
struct ClientPropertyArguments {
    enum Command: String, CaseIterable {
        case connect, publish, subscribe, unsubscribe, disconnect, will
    }

    private(set) var properties: [Command: Properties] = [:]

    init(words: [String], allowed: Set<Command>) throws {
        var index = 0
        func next(_ what: String) throws -> String {
            guard index < words.count else { throw ValidationError("-D: missing \(what) after '\(words[index - 1])'.") }
            defer { index += 1 }
            return words[index]
        }
        while index < words.count {
            let commandWord = try next("command")
            guard let command = Command(rawValue: commandWord.lowercased()) else {
                throw ValidationError("-D: unknown command '\(commandWord)' (expected \(allowed.map(\.rawValue).sorted().joined(separator: ", "))).")
            }
            guard allowed.contains(command) else { throw ValidationError("-D: '\(commandWord)' properties do not apply here.") }
            let identifier = try next("property name").lowercased()
            let property: Property
            switch identifier {
            case "user-property":
                property = .userProperty(try next("user property name"), try next("user property value"))
            default:
                property = try Self.property(identifier, value: try next("value"), command: command)
            }
            properties[command, default: []].append(property)
        }
    }

    subscript(command: Command) -> Properties {
        properties[command] ?? []
    }

    var isEmpty: Bool { properties.isEmpty }

    private static let allowedIdentifiers: [Command: Set<String>] = [
        .connect: ["session-expiry-interval", "receive-maximum", "maximum-packet-size", "topic-alias-maximum",
                   "request-response-information", "request-problem-information"],
        .publish: ["payload-format-indicator", "message-expiry-interval", "content-type", "response-topic", "correlation-data",
                   "topic-alias"],
        .subscribe: ["subscription-identifier"],
        .unsubscribe: [],
        .disconnect: ["session-expiry-interval"],
        .will: ["will-delay-interval", "payload-format-indicator", "message-expiry-interval", "content-type", "response-topic",
                "correlation-data"],
    ]

    private static func property(_ identifier: String, value: String, command: Command) throws -> Property {
        guard allowedIdentifiers[command]?.contains(identifier) == true else {
            throw ValidationError("-D: '\(identifier)' is not a property of \(command.rawValue).")
        }
        func number<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard let number = T(value) else { throw ValidationError("-D: '\(value)' is not a valid value for \(identifier).") }
            return number
        }
        func flag() throws -> Bool {
            switch try number(UInt8.self) {
            case 0: return false
            case 1: return true
            default: throw ValidationError("-D: \(identifier) must be 0 or 1.")
            }
        }
        switch identifier {
        case "session-expiry-interval": return .sessionExpiryInterval(try number(UInt32.self))
        case "receive-maximum": return .receiveMaximum(try number(UInt16.self))
        case "maximum-packet-size": return .maximumPacketSize(try number(UInt32.self))
        case "topic-alias-maximum": return .topicAliasMaximum(try number(UInt16.self))
        case "request-response-information": return .requestResponseInformation(try flag())
        case "request-problem-information": return .requestProblemInformation(try flag())
        case "payload-format-indicator": return .payloadFormatIndicator(try flag() ? 1 : 0)
        case "message-expiry-interval": return .messageExpiryInterval(try number(UInt32.self))
        case "will-delay-interval": return .willDelayInterval(try number(UInt32.self))
        // Accepted as mosquitto_pub and mosquitto_sub accept them; the client library numbers topic aliases and
        // subscription identifiers itself (see `PubCommand` and `SubCommand`).
        case "topic-alias":
            guard let alias = UInt16(value), alias > 0 else { throw ValidationError("-D: topic-alias must be 1 to 65535.") }
            return .topicAlias(alias)
        case "subscription-identifier":
            guard let identifier = Int(value), (1...268_435_455).contains(identifier) else {
                throw ValidationError("-D: subscription-identifier must be 1 to 268435455.")
            }
            return .subscriptionIdentifier(identifier)
        case "content-type": return .contentType(value)
        case "response-topic": return .responseTopic(value)
        // mosquitto_pub takes correlation data as a string; so does this.
        case "correlation-data": return .correlationData(ByteBuffer(string: value))
        default: throw ValidationError("-D: unknown property '\(identifier)'.")
        }
    }
}
