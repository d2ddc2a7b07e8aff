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
        var buffer: ByteBuffer
        if var kept = pending {
            pending = nil
            kept.writeImmutableBuffer(data)
            buffer = kept
        } else {
            buffer = data
        }
        while let packet = try BenchInboundPacket.scan(&buffer, version5: version5) { each(packet) }
        if buffer.readableBytes > 0 {
            // Keep only the cut packet's bytes, not the whole read buffer they sit at the end of.
            pending = ByteBuffer(buffer.readableBytesView)
        }
    }
}
