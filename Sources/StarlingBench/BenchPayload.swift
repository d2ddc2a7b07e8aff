import NIOCore

/// The payload of every benchmark message: a sequence number, the publisher's index and the send time, so
/// that the receiving side can count losses, duplicates and reordering and measure end-to-end latency.
/// Send and receive times are read from the same monotonic clock, so sender and receiver must share a host.
enum BenchPayload {
    static let headerSize = 20

    struct Header: Equatable {
        var sequence: UInt64
        var publisher: UInt32
        /// Monotonic clock reading at the sender, in nanoseconds.
        var sentAt: UInt64
    }

    static func write(_ header: Header, size: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(header.sequence)
        buffer.writeInteger(header.publisher)
        buffer.writeInteger(header.sentAt)
        if size > headerSize { buffer.writeRepeatingByte(UInt8(ascii: "x"), count: size - headerSize) }
    }

    static func read(_ buffer: ByteBuffer) -> Header? {
        guard let sequence = buffer.getInteger(at: buffer.readerIndex, as: UInt64.self),
            let publisher = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self),
            let sentAt = buffer.getInteger(at: buffer.readerIndex + 12, as: UInt64.self)
        else { return nil }
        return Header(sequence: sequence, publisher: publisher, sentAt: sentAt)
    }
}
