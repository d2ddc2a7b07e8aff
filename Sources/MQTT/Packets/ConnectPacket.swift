import NIOCore

/// CONNECT (section 3.1), for protocol levels 3, 4 and 5.
public struct ConnectPacket: Sendable, Hashable {
    /// The protocol level the client speaks; it fixes the encoding of the whole connection.
    public var protocolVersion: ProtocolVersion
    /// The name of the client's session; empty asks the server to assign one (with a clean start).
    public var clientIdentifier: String
    /// Clean Session in 3.1/3.1.1, Clean Start in 5.0.
    public var cleanStart: Bool
    /// Seconds the client may stay silent before the server counts it lost (after one and a half times as long);
    /// 0 turns the keep alive off.
    public var keepAlive: UInt16
    /// The user name, for the server's authentication.
    public var userName: String?
    /// The password: binary data, not necessarily text. In 3.1.1 only with a user name.
    public var password: ByteBuffer?
    /// The message the server publishes if the connection ends without DISCONNECT.
    public var will: Will?
    /// 5.0: Session Expiry Interval, Receive Maximum, Maximum Packet Size, Topic Alias Maximum, authentication and
    /// User Properties; empty in 3.1.1.
    public var properties: Properties

    /// The will: a message published for the client when it goes away without saying goodbye.
    public struct Will: Sendable, Hashable {
        /// The topic the will is published on; a topic name, without wildcards.
        public var topic: String
        /// The will's application message.
        public var payload: ByteBuffer
        /// The QoS the will is published with.
        public var qos: QoS
        /// Whether the will is published as a retained message.
        public var retain: Bool
        /// 5.0: a Will Delay Interval and the message properties (expiry, content type, …); empty in 3.1.1.
        public var properties: Properties

        /// A will on `topic`, at QoS 0 and not retained unless told otherwise.
        public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    /// A CONNECT; 3.1.1 with a clean session and a 60 s keep alive unless told otherwise.
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
