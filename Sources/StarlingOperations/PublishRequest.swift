import Foundation
import MQTT
import NIOCore

/// The body of `POST /api/v1/publish`, checked as strictly as a client's PUBLISH: unknown keys, a topic with
/// wildcards, two payloads, bad base64 or out-of-range numbers are refused with a message.
struct PublishRequest: Decodable {
    var topic: String
    var payload: ByteBuffer
    var qos: QoS
    var retain: Bool
    var properties: Properties

    private enum Key: String, CodingKey, CaseIterable {
        case topic, payload, payloadBase64, qos, retain, properties
    }

    private enum PropertyKey: String, CodingKey, CaseIterable {
        case payloadFormatIndicator, messageExpiryInterval, contentType, responseTopic, correlationData, userProperties
    }

    private struct UserProperty: Decodable {
        var name: String
        var value: String

        private enum Key: String, CodingKey, CaseIterable {
            case name, value
        }

        init(from decoder: any Decoder) throws {
            try PublishRequest.refuseUnknownKeys(in: decoder, known: Key.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: Key.self)
            name = try container.decode(String.self, forKey: .name)
            value = try container.decode(String.self, forKey: .value)
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        try Self.refuseUnknownKeys(in: decoder, known: Key.allCases.map(\.rawValue))
        topic = try container.decode(String.self, forKey: .topic)
        try Self.refuseNUL(topic, "topic")
        do {
            try TopicName.validate(topic)
        } catch {
            throw Invalid("topic: \(error)")
        }
        let text = try container.decodeIfPresent(String.self, forKey: .payload)
        let base64 = try container.decodeIfPresent(String.self, forKey: .payloadBase64)
        switch (text, base64) {
        case (.some, .some):
            throw Invalid("give payload or payloadBase64, not both")
        case (let text?, nil):
            payload = ByteBuffer(string: text)
        case (nil, let base64?):
            guard let data = Data(base64Encoded: base64) else { throw Invalid("payloadBase64 is not base64") }
            payload = ByteBuffer(bytes: data)
        case (nil, nil):
            payload = ByteBuffer()
        }
        let level = try container.decodeIfPresent(Int.self, forKey: .qos) ?? 0
        guard let qos = QoS(rawValue: UInt8(clamping: max(0, level))), (0...2).contains(level) else { throw Invalid("qos must be 0, 1 or 2") }
        self.qos = qos
        retain = try container.decodeIfPresent(Bool.self, forKey: .retain) ?? false
        properties = []
        guard container.contains(.properties) else { return }
        let nested = try container.nestedContainer(keyedBy: PropertyKey.self, forKey: .properties)
        try Self.refuseUnknownKeys(in: try container.superDecoder(forKey: .properties), known: PropertyKey.allCases.map(\.rawValue))
        if let indicator = try nested.decodeIfPresent(Int.self, forKey: .payloadFormatIndicator) {
            guard indicator == 0 || indicator == 1 else { throw Invalid("payloadFormatIndicator must be 0 or 1") }
            // MQTT-3.3.2-6: a payload said to be UTF-8 must be; given as text, it is.
            if indicator == 1, base64 != nil {
                throw Invalid("payloadFormatIndicator 1 says the payload is UTF-8 text: give it as payload, not payloadBase64")
            }
            properties.append(.payloadFormatIndicator(UInt8(indicator)))
        }
        if let expiry = try nested.decodeIfPresent(Int64.self, forKey: .messageExpiryInterval) {
            guard let seconds = UInt32(exactly: expiry) else { throw Invalid("messageExpiryInterval must be 0 to 4294967295") }
            properties.append(.messageExpiryInterval(seconds))
        }
        if let contentType = try nested.decodeIfPresent(String.self, forKey: .contentType) {
            try Self.refuseNUL(contentType, "contentType")
            properties.append(.contentType(contentType))
        }
        if let responseTopic = try nested.decodeIfPresent(String.self, forKey: .responseTopic) {
            try Self.refuseNUL(responseTopic, "responseTopic")
            do {
                try TopicName.validate(responseTopic)
            } catch {
                throw Invalid("responseTopic: \(error)")
            }
            properties.append(.responseTopic(responseTopic))
        }
        if let correlation = try nested.decodeIfPresent(String.self, forKey: .correlationData) {
            guard let data = Data(base64Encoded: correlation) else { throw Invalid("correlationData is not base64") }
            properties.append(.correlationData(ByteBuffer(bytes: data)))
        }
        for user in try nested.decodeIfPresent([UserProperty].self, forKey: .userProperties) ?? [] {
            try Self.refuseNUL(user.name, "userProperties.name")
            try Self.refuseNUL(user.value, "userProperties.value")
            properties.append(.userProperty(user.name, user.value))
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// MQTT's strings hold no U+0000 (MQTT-1.5.4-2).
    static func refuseNUL(_ text: String, _ field: String) throws {
        if text.utf8.contains(0) { throw Invalid("\(field) must not contain U+0000") }
    }

    /// No field may be unknown or null: a misspelt or emptied field would otherwise be ignored in silence.
    fileprivate static func refuseUnknownKeys(in decoder: any Decoder, known: [String]) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            guard known.contains(key.stringValue) else { throw Invalid("unknown field \(key.stringValue)") }
            if try container.decodeNil(forKey: key) { throw Invalid("\(key.stringValue) must not be null") }
        }
    }

    /// What was wrong with the body, for the 400 answer.
    struct Invalid: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
