import NIOCore

/// PUBLISH (section 3.3). The payload is a slice of the buffer it was decoded from: no copy is made.
public struct PublishPacket: Sendable, Hashable {
    /// The topic name; empty in 5.0 when the packet carries only a Topic Alias.
    public var topic: String
    /// The application message, any bytes, possibly empty.
    public var payload: ByteBuffer
    /// How delivery is assured: 0 (none), 1 (PUBACK) or 2 (PUBREC, PUBREL, PUBCOMP).
    public var qos: QoS
    /// From a publisher: the server keeps the message for future subscribers (an empty payload deletes it). To a
    /// subscriber: the message was retained.
    public var retain: Bool
    /// The DUP flag: this QoS 1 or 2 packet may have been sent before; always false at QoS 0.
    public var duplicate: Bool
    /// Present exactly when `qos` is 1 or 2 (MQTT-2.2.1-2).
    public var packetIdentifier: UInt16?
    /// 5.0: message properties (expiry, content type, response topic, user properties…), Topic Alias, and
    /// Subscription Identifiers from a server; empty in 3.1.1.
    public var properties: Properties

    /// A PUBLISH; at QoS 1 and 2 give it a `packetIdentifier`.
    public init(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, duplicate: Bool = false,
        packetIdentifier: UInt16? = nil, properties: Properties = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.duplicate = duplicate
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }

    var flags: UInt8 {
        (duplicate ? 0x08 : 0) | (qos.rawValue << 1) | (retain ? 0x01 : 0)
    }

    /// The size of everything but the payload in the variable header.
    func headerSize(version: ProtocolVersion) -> Int {
        ByteBuffer.mqttStringSize(topic) + (qos == .atMostOnce ? 0 : 2) + (version == .v5 ? properties.encodedSize : 0)
    }

    func bodySize(version: ProtocolVersion) -> Int {
        headerSize(version: version) + payload.readableBytes
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        try writeVariableHeader(to: &buffer, version: version)
        buffer.writeImmutableBuffer(payload)
    }

    private func writeVariableHeader(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        try buffer.writeMQTTString(topic)
        if qos != .atMostOnce { buffer.writeInteger(packetIdentifier ?? 0) }
        if version == .v5 { try properties.write(to: &buffer) }
    }

    /// Writes everything but the payload, so that a sender can hand the payload to the channel as it is, shared
    /// rather than copied, right after these bytes. Throws and leaves `buffer` as it was if it cannot be encoded.
    public func writeHeader(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        let body = bodySize(version: version)
        guard body <= ByteBuffer.maximumVariableByteInteger else {
            throw MQTTError(.packetTooLarge(size: body, maximum: ByteBuffer.maximumVariableByteInteger))
        }
        let start = buffer.writerIndex
        do {
            buffer.writeInteger(PacketType.publish.rawValue << 4 | flags)
            buffer.writeVariableByteInteger(body)
            try writeVariableHeader(to: &buffer, version: version)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    static func read(flags: UInt8, from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> PublishPacket {
        let qosBits = (flags >> 1) & 0x03
        guard let qos = QoS(rawValue: qosBits) else { throw MQTTError(.invalidQoS) }
        let duplicate = flags & 0x08 != 0
        if qos == .atMostOnce && duplicate { throw MQTTError(.duplicateFlagOnQoS0) }
        let topic = try buffer.readMQTTTopicName(policy: options.utf8Policy)
        var packetIdentifier: UInt16?
        if qos != .atMostOnce {
            let identifier = try buffer.readMQTTUInt16()
            guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
            packetIdentifier = identifier
        }
        let properties = version == .v5 ? try Properties.read(from: &buffer, context: .publish, packetType: 3, policy: options.utf8Policy) : []
        if topic.utf8.isEmpty {
            // 5.0 allows an empty topic when a Topic Alias stands for it; otherwise it is a Protocol Error.
            guard version == .v5, properties.topicAlias != nil else { throw MQTTError(.missingTopicName) }
        }
        let payload = buffer.readSlice(length: buffer.readableBytes)!
        return PublishPacket(
            topic: topic, payload: payload, qos: qos, retain: flags & 0x01 != 0, duplicate: duplicate,
            packetIdentifier: packetIdentifier, properties: properties)
    }
}
