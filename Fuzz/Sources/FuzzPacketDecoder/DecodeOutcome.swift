import MQTT
import NIOCore

/// What one decoder made of a byte stream: the packets in order, and the error that stopped it, if any.
struct DecodeOutcome: Equatable, CustomStringConvertible {
    struct Decoded: Equatable {
        var packet: Packet
        /// The version the decoder was in when it read the packet, which is the one to re-encode it in.
        var version: ProtocolVersion
        /// The bytes the packet took on the wire.
        var size: Int
    }

    var packets: [Decoded] = []
    var error: MQTTError?

    var description: String {
        "\(packets.count) packets \(packets.map { "\($0.packet.type)/\($0.size)" }), error \(error.map { "\($0)" } ?? "none")"
    }

    /// Decodes `input` handed over in one buffer. The buffer starts with bytes already read, so that a decoder
    /// reading at an absolute index instead of the reader index is caught.
    static func decodingWhole(_ input: UnsafeBufferPointer<UInt8>, configuration: DecoderConfiguration) -> DecodeOutcome {
        var buffer = ByteBufferAllocator().buffer(capacity: input.count + 3)
        buffer.writeBytes([0xFF, 0xFF, 0xFF])
        buffer.moveReaderIndex(forwardBy: 3)
        buffer.writeBytes(input)
        var decoder = PacketDecoder(version: configuration.version, options: configuration.options)
        var outcome = DecodeOutcome()
        outcome.drain(&buffer, with: &decoder)
        return outcome
    }

    /// Decodes `input` handed over in chunks of random length, as a network read would, decoding after each.
    static func decodingSplit(
        _ input: UnsafeBufferPointer<UInt8>, configuration: DecoderConfiguration, random: inout SplitMix64
    ) -> DecodeOutcome {
        var buffer = ByteBufferAllocator().buffer(capacity: input.count)
        var decoder = PacketDecoder(version: configuration.version, options: configuration.options)
        var outcome = DecodeOutcome()
        var offset = 0
        while offset < input.count {
            let remaining = input.count - offset
            // One byte at a time a quarter of the time: it stops inside every header and length field.
            let length = random.next() % 4 == 0 ? 1 : Int.random(in: 1...remaining, using: &random)
            buffer.writeBytes(UnsafeBufferPointer(rebasing: input[offset..<(offset + length)]))
            offset += length
            guard outcome.drain(&buffer, with: &decoder) else { break }
        }
        return outcome
    }

    /// Decodes packets until the decoder wants more bytes (true) or throws (false).
    @discardableResult
    private mutating func drain(_ buffer: inout ByteBuffer, with decoder: inout PacketDecoder) -> Bool {
        while true {
            let start = buffer.readerIndex
            let version = decoder.version ?? .v3_1_1
            let packet: Packet?
            do {
                packet = try decoder.decode(buffer: &buffer)
            } catch let error as MQTTError {
                self.error = error
                return false
            } catch {
                fatalError("decoder threw a non-MQTTError: \(error)")
            }
            guard let packet else {
                require(buffer.readerIndex == start, "decode returned nil but consumed \(buffer.readerIndex - start) bytes")
                return true
            }
            let size = buffer.readerIndex - start
            require(size >= 2, "decoded \(packet.type) from \(size) bytes")
            packets.append(Decoded(packet: packet, version: version, size: size))
        }
    }
}
