import NIOCore

/// What the load generator needs of one packet from the broker, read in place from the received bytes: no
/// packet value, no topic string, no payload copy, so that counting a delivery allocates nothing.
enum BenchInboundPacket: Equatable {
    /// CONNACK: the v3.1.1 return code or the v5 reason code.
    case connAck(code: UInt8)
    /// SUBACK: whether any of its reason codes refuses a subscription.
    case subAck(refused: UInt8?)
    /// PUBLISH: its QoS, packet identifier (0 at QoS 0) and the benchmark header of its payload, if it has one.
    case publish(qos: UInt8, packetIdentifier: UInt16, header: BenchPayload.Header?)
    case pubAck(UInt16)
    case pubRec(UInt16)
    case pubRel(UInt16)
    case pubComp(UInt16)
    /// Anything else (PINGRESP, DISCONNECT, AUTH, UNSUBACK): counted as read, otherwise ignored.
    case other(type: UInt8)

    enum ScanError: Error, Equatable {
        /// A remaining length of more than four bytes, or a body too short for its type.
        case malformed
    }

    /// The whole size (fixed header included) of the packet at the buffer's reader index; nil while its fixed
    /// header is not complete.
    static func size(at buffer: ByteBuffer) throws(ScanError) -> (total: Int, header: Int)? {
        let start = buffer.readerIndex
        var remaining = 0
        var shift = 0
        var offset = start + 1
        while true {
            guard let byte = buffer.getInteger(at: offset, as: UInt8.self) else { return nil }
            offset += 1
            remaining |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            if shift > 21 { throw .malformed }
        }
        return (offset - start + remaining, offset - start)
    }

    /// Reads the next whole packet at the buffer's reader index and moves past it; nil, with the reader index
    /// unmoved, when the packet is not complete yet.
    static func scan(_ buffer: inout ByteBuffer, version5: Bool) throws(ScanError) -> BenchInboundPacket? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self), let size = try size(at: buffer) else { return nil }
        let remaining = size.total - size.header
        let body = start + size.header
        guard buffer.writerIndex - body >= remaining else { return nil }
        // The fields below are read at absolute indices inside the readable bytes; the reader index moves past
        // the packet once they are.
        defer { buffer.moveReaderIndex(to: body + remaining) }
        let type = first >> 4
        func byte(_ at: Int) throws(ScanError) -> UInt8 {
            guard at < remaining, let value = buffer.getInteger(at: body + at, as: UInt8.self) else { throw .malformed }
            return value
        }
        func identifier(_ at: Int) throws(ScanError) -> UInt16 {
            guard at + 2 <= remaining, let value = buffer.getInteger(at: body + at, as: UInt16.self) else { throw .malformed }
            return value
        }
        /// Moves past v5 properties: their length, a variable byte integer, then that many bytes.
        func skipProperties(_ cursor: inout Int) throws(ScanError) {
            var length = 0
            var shift = 0
            while true {
                let b = try byte(cursor)
                cursor += 1
                length |= Int(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                if shift > 21 { throw .malformed }
            }
            cursor += length
        }
        switch type {
        case 2:
            return .connAck(code: try byte(1))
        case 3:
            let qos = (first >> 1) & 0x03
            let topicLength = Int(try identifier(0))
            var cursor = 2 + topicLength
            var packetIdentifier: UInt16 = 0
            if qos > 0 {
                packetIdentifier = try identifier(cursor)
                cursor += 2
            }
            if version5 { try skipProperties(&cursor) }
            guard cursor <= remaining else { throw .malformed }
            let payload = buffer.getSlice(at: body + cursor, length: remaining - cursor) ?? ByteBuffer()
            return .publish(qos: qos, packetIdentifier: packetIdentifier, header: BenchPayload.read(payload))
        case 4: return .pubAck(try identifier(0))
        case 5: return .pubRec(try identifier(0))
        case 6: return .pubRel(try identifier(0))
        case 7: return .pubComp(try identifier(0))
        case 9:
            var cursor = 2
            if version5 { try skipProperties(&cursor) }
            var refused: UInt8?
            while cursor < remaining {
                let code = try byte(cursor)
                if code >= 0x80 && refused == nil { refused = code }
                cursor += 1
            }
            return .subAck(refused: refused)
        default:
            return .other(type: type)
        }
    }
}
