import NIOCore

/// The payload of every benchmark message: a sequence number, the publisher's index and the send time, so
/// that the receiving side can count losses, duplicates and reordering and measure latency.
enum BenchPayload {
    static let headerSize = 20

    static func write(sequence: UInt64, publisher: UInt32, size: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(sequence)
        buffer.writeInteger(publisher)
        buffer.writeInteger(UInt64(NIODeadline.now().uptimeNanoseconds))
        buffer.writeRepeatingByte(UInt8(ascii: "x"), count: size - headerSize)
    }

    static func read(_ buffer: ByteBuffer) -> (sequence: UInt64, publisher: UInt32, sentAt: UInt64)? {
        guard let sequence = buffer.getInteger(at: buffer.readerIndex, as: UInt64.self),
            let publisher = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self),
            let sentAt = buffer.getInteger(at: buffer.readerIndex + 12, as: UInt64.self)
        else { return nil }
        return (sequence, publisher, sentAt)
    }
}
