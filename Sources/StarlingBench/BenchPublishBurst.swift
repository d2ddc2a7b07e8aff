import NIOCore

/// A publisher's PUBLISH packet encoded once; a burst is that packet copied back to back, with each copy's
/// packet identifier and payload header (sequence number, send time) written in place. Encoding a burst is a
/// copy of bytes per message, and the burst goes out in one write and one flush.
struct BenchPublishBurst {
    let qos: UInt8
    let publisher: UInt32
    /// One whole packet: fixed header, topic, packet identifier (QoS 1 and 2), v5 properties, payload.
    let template: [UInt8]
    /// Offsets in `template` of the packet identifier (or nil at QoS 0) and of the payload.
    let identifierOffset: Int?
    let payloadOffset: Int

    var packetSize: Int { template.count }

    init(topic: String, qos: UInt8, publisher: UInt32, payloadSize: Int, version5: Bool) {
        self.qos = qos
        self.publisher = publisher
        let payloadSize = max(payloadSize, BenchPayload.headerSize)
        let topicBytes = Array(topic.utf8)
        var variable: [UInt8] = [UInt8(topicBytes.count >> 8), UInt8(topicBytes.count & 0xFF)] + topicBytes
        var identifierOffsetInVariable: Int?
        if qos > 0 {
            identifierOffsetInVariable = variable.count
            variable += [0, 0]
        }
        if version5 { variable.append(0) }  // no properties
        var remaining = variable.count + payloadSize
        var header: [UInt8] = [0x30 | (qos << 1)]
        repeat {
            var byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            header.append(byte)
        } while remaining > 0
        var payload = ByteBuffer()
        BenchPayload.write(.init(sequence: 0, publisher: publisher, sentAt: 0), size: payloadSize, to: &payload)
        self.template = header + variable + Array(payload.readableBytesView)
        self.identifierOffset = identifierOffsetInVariable.map { header.count + $0 }
        self.payloadOffset = header.count + variable.count
    }

    /// Appends `count` packets to `buffer`, with sequence numbers from `firstSequence` and, at QoS 1 and 2,
    /// packet identifiers following `lastIdentifier` (1 … 65535, then 1 again), which it leaves at the last used.
    func write(count: Int, firstSequence: UInt64, sentAt: UInt64, lastIdentifier: inout UInt16, to buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: count * template.count)
        for i in 0..<count {
            let start = buffer.writerIndex
            buffer.writeBytes(template)
            if let identifierOffset {
                lastIdentifier = lastIdentifier == .max ? 1 : lastIdentifier + 1
                buffer.setInteger(lastIdentifier, at: start + identifierOffset)
            }
            buffer.setInteger(firstSequence + UInt64(i), at: start + payloadOffset)
            buffer.setInteger(sentAt, at: start + payloadOffset + 12)
        }
    }
}
