import NIOCore

extension Packet {
    /// The size of the packet on the wire, fixed header included.
    public func encodedSize(version: ProtocolVersion) -> Int {
        let body = bodySize(version: version)
        return 1 + ByteBuffer.variableByteIntegerSize(body) + body
    }

    /// Writes the packet to `buffer` in one pass, after reserving its exact size. A packet that cannot be
    /// encoded throws and leaves `buffer` as it was.
    public func write(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        let body = bodySize(version: version)
        guard body <= ByteBuffer.maximumVariableByteInteger else {
            throw MQTTError(.packetTooLarge(size: body, maximum: ByteBuffer.maximumVariableByteInteger))
        }
        buffer.reserveCapacity(minimumWritableBytes: 1 + ByteBuffer.variableByteIntegerSize(body) + body)
        let start = buffer.writerIndex
        do {
            buffer.writeInteger(firstByte)
            buffer.writeVariableByteInteger(body)
            switch self {
            case .connect(let p): try p.writeBody(to: &buffer)
            case .connAck(let p): try p.writeBody(to: &buffer, version: version)
            case .publish(let p): try p.writeBody(to: &buffer, version: version)
            case .pubAck(let p), .pubRec(let p), .pubRel(let p), .pubComp(let p): try p.writeBody(to: &buffer, version: version)
            case .subscribe(let p): try p.writeBody(to: &buffer, version: version)
            case .subAck(let p): try p.writeBody(to: &buffer, version: version)
            case .unsubscribe(let p): try p.writeBody(to: &buffer, version: version)
            case .unsubAck(let p): try p.writeBody(to: &buffer, version: version)
            case .pingReq, .pingResp: break
            case .disconnect(let p): try p.tail.write(to: &buffer, version: version)
            case .auth(let p): try p.tail.write(to: &buffer, version: version)
            }
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Encodes the packet into a new buffer.
    public func encoded(version: ProtocolVersion, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: encodedSize(version: version))
        try write(to: &buffer, version: version)
        return buffer
    }

    private var firstByte: UInt8 {
        let flags: UInt8 = if case .publish(let p) = self { p.flags } else { type.requiredFlags }
        return type.rawValue << 4 | flags
    }

    private func bodySize(version: ProtocolVersion) -> Int {
        switch self {
        case .connect(let p): p.bodySize()
        case .connAck(let p): p.bodySize(version: version)
        case .publish(let p): p.bodySize(version: version)
        case .pubAck(let p), .pubRec(let p), .pubRel(let p), .pubComp(let p): p.bodySize(version: version)
        case .subscribe(let p): p.bodySize(version: version)
        case .subAck(let p): p.bodySize(version: version)
        case .unsubscribe(let p): p.bodySize(version: version)
        case .unsubAck(let p): p.bodySize(version: version)
        case .pingReq, .pingResp: 0
        case .disconnect(let p): p.tail.size(version: version)
        case .auth(let p): p.tail.size(version: version)
        }
    }
}

/// Encodes `Packet`s for a SwiftNIO pipeline in the connection's protocol version.
public struct PacketEncoder: MessageToByteEncoder, Sendable {
    /// Each message written to the pipeline is one whole packet.
    public typealias OutboundIn = Packet

    /// The protocol version packets are encoded in: the one the connection's CONNECT chose.
    public var version: ProtocolVersion

    /// An encoder for a connection in `version`.
    public init(version: ProtocolVersion) {
        self.version = version
    }

    /// Writes `data` to `out`; throws `MQTTError` for a packet that cannot be encoded (a field too long, say).
    public func encode(data: Packet, out: inout ByteBuffer) throws {
        try data.write(to: &out, version: version)
    }
}
