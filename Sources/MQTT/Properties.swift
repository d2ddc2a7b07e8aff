import NIOCore

/// The property list of an MQTT 5.0 packet, in wire order. Empty (and free) for 3.1 and 3.1.1.
public struct Properties: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral {
    /// The properties, in the order they are written or were read.
    public var elements: [Property]

    /// A list of `elements`, in that order; nothing checks that they may appear together.
    public init(_ elements: [Property] = []) {
        self.elements = elements
    }

    /// A list written as an array literal: `[.reasonString("busy"), .userProperty("k", "v")]`.
    public init(arrayLiteral elements: Property...) {
        self.elements = elements
    }

    /// The position of the first property.
    public var startIndex: Int { elements.startIndex }
    /// The position after the last property.
    public var endIndex: Int { elements.endIndex }
    /// The property at `position`.
    public subscript(position: Int) -> Property { elements[position] }

    /// Adds `property` at the end, even if one with the same identifier is already there (as User Property may).
    public mutating func append(_ property: Property) {
        elements.append(property)
    }

    /// Removes every property with `identifier`.
    public mutating func remove(_ identifier: Property.Identifier) {
        elements.removeAll { $0.identifier == identifier }
    }

    /// Replaces any property with the same identifier by `property`.
    public mutating func set(_ property: Property) {
        remove(property.identifier)
        append(property)
    }

    // MARK: Typed access

    /// The Payload Format Indicator, if present: 1 when the payload is UTF-8 text.
    public var payloadFormatIndicator: UInt8? { first { if case .payloadFormatIndicator(let v) = $0 { v } else { nil } } }
    /// The Message Expiry Interval, if present: seconds the message may wait undelivered.
    public var messageExpiryInterval: UInt32? { first { if case .messageExpiryInterval(let v) = $0 { v } else { nil } } }
    /// The Content Type, if present: the payload's type, a MIME type usually.
    public var contentType: String? { first { if case .contentType(let v) = $0 { v } else { nil } } }
    /// The Response Topic, if present: the topic a request wants its response on.
    public var responseTopic: String? { first { if case .responseTopic(let v) = $0 { v } else { nil } } }
    /// The Correlation Data, if present: bytes matching a response to its request.
    public var correlationData: ByteBuffer? { first { if case .correlationData(let v) = $0 { v } else { nil } } }
    /// Every Subscription Identifier, in order: in a PUBLISH, one per subscription the message matched.
    public var subscriptionIdentifiers: [Int] { elements.compactMap { if case .subscriptionIdentifier(let v) = $0 { v } else { nil } } }
    /// The Session Expiry Interval, if present: seconds the session outlives its connection.
    public var sessionExpiryInterval: UInt32? { first { if case .sessionExpiryInterval(let v) = $0 { v } else { nil } } }
    /// The Assigned Client Identifier, if present: the identifier the server chose for the client.
    public var assignedClientIdentifier: String? { first { if case .assignedClientIdentifier(let v) = $0 { v } else { nil } } }
    /// The Server Keep Alive, if present: the keep alive the server wants instead of the client's.
    public var serverKeepAlive: UInt16? { first { if case .serverKeepAlive(let v) = $0 { v } else { nil } } }
    /// The Authentication Method, if present: the enhanced authentication method.
    public var authenticationMethod: String? { first { if case .authenticationMethod(let v) = $0 { v } else { nil } } }
    /// The Authentication Data, if present: the enhanced authentication data of this step.
    public var authenticationData: ByteBuffer? { first { if case .authenticationData(let v) = $0 { v } else { nil } } }
    /// The Request Problem Information, if present: whether the client wants Reason Strings and User Properties with failures.
    public var requestProblemInformation: Bool? { first { if case .requestProblemInformation(let v) = $0 { v } else { nil } } }
    /// The Will Delay Interval, if present: seconds before the will is published.
    public var willDelayInterval: UInt32? { first { if case .willDelayInterval(let v) = $0 { v } else { nil } } }
    /// The Request Response Information, if present: whether the client asks for Response Information.
    public var requestResponseInformation: Bool? { first { if case .requestResponseInformation(let v) = $0 { v } else { nil } } }
    /// The Response Information, if present: a topic prefix for the client's response topics.
    public var responseInformation: String? { first { if case .responseInformation(let v) = $0 { v } else { nil } } }
    /// The Server Reference, if present: another server for the client to use.
    public var serverReference: String? { first { if case .serverReference(let v) = $0 { v } else { nil } } }
    /// The Reason String, if present: a human-readable reason for the reason code.
    public var reasonString: String? { first { if case .reasonString(let v) = $0 { v } else { nil } } }
    /// The Receive Maximum, if present: how many QoS 1 and 2 publishes may be unacknowledged at once.
    public var receiveMaximum: UInt16? { first { if case .receiveMaximum(let v) = $0 { v } else { nil } } }
    /// The Topic Alias Maximum, if present: the highest topic alias the sender accepts.
    public var topicAliasMaximum: UInt16? { first { if case .topicAliasMaximum(let v) = $0 { v } else { nil } } }
    /// The Topic Alias, if present: the number standing for the topic name.
    public var topicAlias: UInt16? { first { if case .topicAlias(let v) = $0 { v } else { nil } } }
    /// The Maximum QoS, if present: the highest QoS the server supports.
    public var maximumQoS: QoS? { first { if case .maximumQoS(let v) = $0 { v } else { nil } } }
    /// The Retain Available, if present: whether the server supports retained messages.
    public var retainAvailable: Bool? { first { if case .retainAvailable(let v) = $0 { v } else { nil } } }
    /// Every User Property as a name and a value, in order; a name may recur.
    public var userProperties: [(key: String, value: String)] {
        elements.compactMap { if case .userProperty(let k, let v) = $0 { (k, v) } else { nil } }
    }
    /// The Maximum Packet Size, if present: the largest packet the sender accepts.
    public var maximumPacketSize: UInt32? { first { if case .maximumPacketSize(let v) = $0 { v } else { nil } } }
    /// The Wildcard Subscription Available, if present: whether the server supports wildcard subscriptions.
    public var wildcardSubscriptionAvailable: Bool? { first { if case .wildcardSubscriptionAvailable(let v) = $0 { v } else { nil } } }
    /// The Subscription Identifiers Available, if present: whether the server supports subscription identifiers.
    public var subscriptionIdentifiersAvailable: Bool? { first { if case .subscriptionIdentifiersAvailable(let v) = $0 { v } else { nil } } }
    /// The Shared Subscription Available, if present: whether the server supports shared subscriptions.
    public var sharedSubscriptionAvailable: Bool? { first { if case .sharedSubscriptionAvailable(let v) = $0 { v } else { nil } } }

    @inline(__always)
    private func first<T>(_ extract: (Property) -> T?) -> T? {
        for element in elements {
            if let value = extract(element) { return value }
        }
        return nil
    }
}

// MARK: - Wire format

extension Properties {
    /// The size of the property list without its length prefix.
    public var contentSize: Int {
        var size = 0
        for property in elements { size += property.encodedSize }
        return size
    }

    /// The size of the property list with its variable byte integer length prefix.
    public var encodedSize: Int {
        let content = contentSize
        return ByteBuffer.variableByteIntegerSize(content) + content
    }

    /// Writes the list with its length prefix, as every 5.0 packet carries it; throws if a value cannot be encoded.
    public func write(to buffer: inout ByteBuffer) throws {
        buffer.writeVariableByteInteger(contentSize)
        for property in elements { try property.write(to: &buffer) }
    }

    /// Reads a length-prefixed property list and checks it against the rules for `context`.
    static func read(from buffer: inout ByteBuffer, context: PropertyContext, packetType: UInt8, policy: UTF8Policy) throws -> Properties {
        let length = try buffer.readVariableByteInteger()
        guard length > 0 else { return Properties() }
        guard var slice = buffer.readSlice(length: length) else { throw MQTTError.truncated }
        var elements: [Property] = []
        var seen: UInt64 = 0
        while slice.readableBytes > 0 {
            let rawIdentifier = try slice.readVariableByteInteger()
            guard rawIdentifier < 0x80, let identifier = Property.Identifier(rawValue: UInt8(rawIdentifier)),
                identifier.allowedIn.contains(PropertyContext.Set(context))
            else {
                throw MQTTError(.invalidProperty(identifier: UInt32(rawIdentifier), packetType: packetType))
            }
            let bit: UInt64 = 1 << identifier.rawValue
            if seen & bit != 0 && !identifier.mayRepeat(in: context) {
                throw MQTTError(.duplicateProperty(identifier: identifier.rawValue))
            }
            seen |= bit
            elements.append(try Property.read(identifier, from: &slice, policy: policy))
        }
        return Properties(elements)
    }
}

extension Property {
    var encodedSize: Int {
        1 + valueSize
    }

    private var valueSize: Int {
        switch self {
        case .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation, .maximumQoS,
            .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifiersAvailable,
            .sharedSubscriptionAvailable:
            1
        case .serverKeepAlive, .receiveMaximum, .topicAliasMaximum, .topicAlias:
            2
        case .messageExpiryInterval, .sessionExpiryInterval, .willDelayInterval, .maximumPacketSize:
            4
        case .subscriptionIdentifier(let value):
            ByteBuffer.variableByteIntegerSize(value)
        case .contentType(let s), .responseTopic(let s), .assignedClientIdentifier(let s), .authenticationMethod(let s),
            .responseInformation(let s), .serverReference(let s), .reasonString(let s):
            ByteBuffer.mqttStringSize(s)
        case .correlationData(let b), .authenticationData(let b):
            2 + b.readableBytes
        case .userProperty(let key, let value):
            ByteBuffer.mqttStringSize(key) + ByteBuffer.mqttStringSize(value)
        }
    }

    func write(to buffer: inout ByteBuffer) throws {
        buffer.writeInteger(identifier.rawValue)
        switch self {
        case .payloadFormatIndicator(let v): buffer.writeInteger(v)
        case .maximumQoS(let v): buffer.writeInteger(v.rawValue)
        case .requestProblemInformation(let v), .requestResponseInformation(let v), .retainAvailable(let v),
            .wildcardSubscriptionAvailable(let v), .subscriptionIdentifiersAvailable(let v),
            .sharedSubscriptionAvailable(let v):
            buffer.writeInteger(UInt8(v ? 1 : 0))
        case .serverKeepAlive(let v), .receiveMaximum(let v), .topicAliasMaximum(let v), .topicAlias(let v):
            buffer.writeInteger(v)
        case .messageExpiryInterval(let v), .sessionExpiryInterval(let v), .willDelayInterval(let v),
            .maximumPacketSize(let v):
            buffer.writeInteger(v)
        case .subscriptionIdentifier(let v):
            // 1 to 268,435,455 (3.8.2.1.2); anything else has no variable byte integer encoding.
            guard v >= 1 && v <= ByteBuffer.maximumVariableByteInteger else {
                throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue))
            }
            buffer.writeVariableByteInteger(v)
        case .contentType(let s), .responseTopic(let s), .assignedClientIdentifier(let s), .authenticationMethod(let s),
            .responseInformation(let s), .serverReference(let s), .reasonString(let s):
            try buffer.writeMQTTString(s)
        case .correlationData(let b), .authenticationData(let b):
            try buffer.writeMQTTBinary(b)
        case .userProperty(let key, let value):
            try buffer.writeMQTTString(key)
            try buffer.writeMQTTString(value)
        }
    }

    static func read(_ identifier: Identifier, from buffer: inout ByteBuffer, policy: UTF8Policy) throws -> Property {
        func flag() throws -> Bool {
            switch try buffer.readMQTTByte() {
            case 0: return false
            case 1: return true
            default: throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue))
            }
        }
        func nonZero16() throws -> UInt16 {
            let value = try buffer.readMQTTUInt16()
            guard value != 0 else { throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue)) }
            return value
        }
        switch identifier {
        case .payloadFormatIndicator:
            let value = try buffer.readMQTTByte()
            guard value <= 1 else { throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue)) }
            return .payloadFormatIndicator(value)
        case .messageExpiryInterval: return .messageExpiryInterval(try buffer.readMQTTUInt32())
        case .contentType: return .contentType(try buffer.readMQTTString(policy: policy))
        case .responseTopic: return .responseTopic(try buffer.readMQTTString(policy: policy))
        case .correlationData: return .correlationData(try buffer.readMQTTBinary())
        case .subscriptionIdentifier:
            let value = try buffer.readVariableByteInteger()
            // "It is a Protocol Error if the Subscription Identifier has a value of 0" (3.8.2.1.2).
            guard value != 0 else { throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue)) }
            return .subscriptionIdentifier(value)
        case .sessionExpiryInterval: return .sessionExpiryInterval(try buffer.readMQTTUInt32())
        case .assignedClientIdentifier: return .assignedClientIdentifier(try buffer.readMQTTString(policy: policy))
        case .serverKeepAlive: return .serverKeepAlive(try buffer.readMQTTUInt16())
        case .authenticationMethod: return .authenticationMethod(try buffer.readMQTTString(policy: policy))
        case .authenticationData: return .authenticationData(try buffer.readMQTTBinary())
        case .requestProblemInformation: return .requestProblemInformation(try flag())
        case .willDelayInterval: return .willDelayInterval(try buffer.readMQTTUInt32())
        case .requestResponseInformation: return .requestResponseInformation(try flag())
        case .responseInformation: return .responseInformation(try buffer.readMQTTString(policy: policy))
        case .serverReference: return .serverReference(try buffer.readMQTTString(policy: policy))
        case .reasonString: return .reasonString(try buffer.readMQTTString(policy: policy))
        case .receiveMaximum: return .receiveMaximum(try nonZero16())
        case .topicAliasMaximum: return .topicAliasMaximum(try buffer.readMQTTUInt16())
        // Topic Alias 0 is answered with DISCONNECT 0x94 by the receiver's alias logic, not here.
        case .topicAlias: return .topicAlias(try buffer.readMQTTUInt16())
        case .maximumQoS:
            switch try buffer.readMQTTByte() {
            case 0: return .maximumQoS(.atMostOnce)
            case 1: return .maximumQoS(.atLeastOnce)
            default: throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue))
            }
        case .retainAvailable: return .retainAvailable(try flag())
        case .userProperty:
            let key = try buffer.readMQTTString(policy: policy)
            let value = try buffer.readMQTTString(policy: policy)
            return .userProperty(key, value)
        case .maximumPacketSize:
            let value = try buffer.readMQTTUInt32()
            guard value != 0 else { throw MQTTError(.invalidPropertyValue(identifier: identifier.rawValue)) }
            return .maximumPacketSize(value)
        case .wildcardSubscriptionAvailable: return .wildcardSubscriptionAvailable(try flag())
        case .subscriptionIdentifiersAvailable: return .subscriptionIdentifiersAvailable(try flag())
        case .sharedSubscriptionAvailable: return .sharedSubscriptionAvailable(try flag())
        }
    }
}
