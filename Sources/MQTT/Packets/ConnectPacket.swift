import NIOCore

/// CONNECT (section 3.1), for protocol levels 3, 4 and 5.
public struct ConnectPacket: Sendable, Hashable {
    public var protocolVersion: ProtocolVersion
    public var clientIdentifier: String
    /// Clean Session in 3.1/3.1.1, Clean Start in 5.0.
    public var cleanStart: Bool
    public var keepAlive: UInt16
    public var userName: String?
    public var password: ByteBuffer?
    public var will: Will?
    public var properties: Properties

    public struct Will: Sendable, Hashable {
        public var topic: String
        public var payload: ByteBuffer
        public var qos: QoS
        public var retain: Bool
        public var properties: Properties

        public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public init(
        protocolVersion: ProtocolVersion = .v3_1_1, clientIdentifier: String, cleanStart: Bool = true,
        keepAlive: UInt16 = 60, userName: String? = nil, password: ByteBuffer? = nil, will: Will? = nil,
        properties: Properties = []
    ) {
        self.protocolVersion = protocolVersion
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.userName = userName
        self.password = password
        self.will = will
        self.properties = properties
    }

    private var flags: UInt8 {
        var flags: UInt8 = 0
        if userName != nil { flags |= 0x80 }
        if password != nil { flags |= 0x40 }
        if let will {
            flags |= 0x04 | (will.qos.rawValue << 3)
            if will.retain { flags |= 0x20 }
        }
        if cleanStart { flags |= 0x02 }
        return flags
    }

    func bodySize() -> Int {
        var size = ByteBuffer.mqttStringSize(protocolVersion.protocolName) + 1 + 1 + 2
        let v5 = protocolVersion == .v5
        if v5 { size += properties.encodedSize }
        size += ByteBuffer.mqttStringSize(clientIdentifier)
        if let will {
            if v5 { size += will.properties.encodedSize }
            size += ByteBuffer.mqttStringSize(will.topic) + 2 + will.payload.readableBytes
        }
        if let userName { size += ByteBuffer.mqttStringSize(userName) }
        if let password { size += 2 + password.readableBytes }
        return size
    }

    func writeBody(to buffer: inout ByteBuffer) throws {
        let v5 = protocolVersion == .v5
        try buffer.writeMQTTString(protocolVersion.protocolName)
        buffer.writeInteger(protocolVersion.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(keepAlive)
        if v5 { try properties.write(to: &buffer) }
        try buffer.writeMQTTString(clientIdentifier)
        if let will {
            if v5 { try will.properties.write(to: &buffer) }
            try buffer.writeMQTTString(will.topic)
            try buffer.writeMQTTBinary(will.payload)
        }
        if let userName { try buffer.writeMQTTString(userName) }
        if let password { try buffer.writeMQTTBinary(password) }
    }

    static func read(from buffer: inout ByteBuffer, options: DecodingOptions) throws -> ConnectPacket {
        let policy = options.utf8Policy
        let name = try buffer.readMQTTString(policy: policy)
        let level = try buffer.readMQTTByte()
        // MQTT-3.1.2-1: a protocol name other than the one the level implies is refused; MQTT-3.1.2-2: an
        // unknown level is answered with "unacceptable protocol version".
        guard name == "MQTT" || name == "MQIsdp" else { throw MQTTError(.invalidProtocolName(name)) }
        guard let version = ProtocolVersion(rawValue: level) else { throw MQTTError(.unsupportedProtocolVersion(level)) }
        guard name == version.protocolName else { throw MQTTError(.unsupportedProtocolVersion(level)) }
        let flags = try buffer.readMQTTByte()
        guard flags & 0x01 == 0 else { throw MQTTError(.connectReservedFlagSet) }
        let hasWill = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        guard willQoSBits != 3, hasWill || (willQoSBits == 0 && !willRetain) else { throw MQTTError(.invalidWillFlags) }
        let hasUserName = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        if version < .v5 && hasPassword && !hasUserName { throw MQTTError(.passwordWithoutUserName) }
        let keepAlive = try buffer.readMQTTUInt16()
        let v5 = version == .v5
        let properties = v5 ? try Properties.read(from: &buffer, context: .connect, packetType: 1, policy: policy) : []
        let clientIdentifier = try buffer.readMQTTString(policy: policy)
        var will: Will?
        if hasWill {
            let willProperties = v5 ? try Properties.read(from: &buffer, context: .will, packetType: 1, policy: policy) : []
            let topic = try buffer.readMQTTString(policy: policy)
            let payload = try buffer.readMQTTBinary()
            will = Will(topic: topic, payload: payload, qos: QoS(rawValue: willQoSBits)!, retain: willRetain, properties: willProperties)
        }
        let userName = hasUserName ? try buffer.readMQTTString(policy: policy) : nil
        let password = hasPassword ? try buffer.readMQTTBinary() : nil
        return ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: flags & 0x02 != 0,
            keepAlive: keepAlive, userName: userName, password: password, will: will, properties: properties)
    }
}
