import NIOCore

/// UNSUBSCRIBE (section 3.10).
public struct UnsubscribePacket: Sendable, Hashable {
    /// A non-zero identifier, not in use by another flow, that the UNSUBACK will carry back.
    public var packetIdentifier: UInt16
    /// The filters to remove, exactly as they were subscribed; at least one.
    public var topicFilters: [String]
    /// 5.0: User Properties; empty in 3.1.1.
    public var properties: Properties

    /// An UNSUBSCRIBE of `topicFilters` under `packetIdentifier`.
    public init(packetIdentifier: UInt16, topicFilters: [String], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.topicFilters = topicFilters
        self.properties = properties
    }

    func bodySize(version: ProtocolVersion) -> Int {
        var size = 2 + (version == .v5 ? properties.encodedSize : 0)
        for filter in topicFilters { size += ByteBuffer.mqttStringSize(filter) }
        return size
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(packetIdentifier)
        if version == .v5 { try properties.write(to: &buffer) }
        for filter in topicFilters { try buffer.writeMQTTString(filter) }
    }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> UnsubscribePacket {
        let identifier = try buffer.readMQTTUInt16()
        guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
        let properties = version == .v5 ? try Properties.read(from: &buffer, context: .unsubscribe, packetType: 10, policy: options.utf8Policy) : []
        var filters: [String] = []
        while buffer.readableBytes > 0 {
            filters.append(try buffer.readMQTTString(policy: options.utf8Policy))
        }
        guard !filters.isEmpty else { throw MQTTError(.emptySubscriptionList) }
        return UnsubscribePacket(packetIdentifier: identifier, topicFilters: filters, properties: properties)
    }
}
