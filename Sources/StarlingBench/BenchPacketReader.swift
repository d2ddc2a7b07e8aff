import NIOCore

/// Splits the byte stream of one connection into packets, in place: whole packets are read straight from
/// the received buffer; only a packet cut by the end of a read is kept, and completed by the next read.
struct BenchPacketReader {
    let version5: Bool
    /// The start of a packet that the last read cut short.
    private var pending: ByteBuffer?

    init(version5: Bool) {
        self.version5 = version5
    }

    /// Bytes kept from a packet not yet complete.
    var pendingBytes: Int { pending?.readableBytes ?? 0 }

    /// Calls `each` for every packet completed by `data`, in order.
    mutating func read(_ data: ByteBuffer, _ each: (BenchInboundPacket) -> Void) throws(BenchInboundPacket.ScanError) {
        var buffer = data
        if var kept = pending {
            // Complete the cut packet with just the bytes it lacks, then read the rest of `data` in place.
            pending = nil
            while try BenchInboundPacket.size(at: kept) == nil {
                // Its fixed header is cut too: one byte at a time until the length is known.
                guard let byte = buffer.readInteger(as: UInt8.self) else {
                    pending = kept
                    return
                }
                kept.writeInteger(byte)
            }
            let total = try BenchInboundPacket.size(at: kept)!.total
            let missing = min(total - kept.readableBytes, buffer.readableBytes)
            kept.writeImmutableBuffer(buffer.readSlice(length: missing)!)
            guard let packet = try BenchInboundPacket.scan(&kept, version5: version5) else {
                pending = kept
                return
            }
            each(packet)
        }
        while let packet = try BenchInboundPacket.scan(&buffer, version5: version5) { each(packet) }
        if buffer.readableBytes > 0 {
            // Keep only the cut packet's bytes, not the whole read buffer they sit at the end of.
            pending = ByteBuffer(buffer.readableBytesView)
        }
    }
}
