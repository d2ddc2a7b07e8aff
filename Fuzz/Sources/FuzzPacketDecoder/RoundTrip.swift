import MQTT
import NIOCore

/// The encoder's contract with the decoder, checked on every packet the decoder accepts.
enum RoundTrip {
    /// Encoding a decoded packet must not fail; its size must be the one `encodedSize` promised and no larger
    /// than what was read (the encoder writes the shortest form); decoding it again must give the same packet,
    /// using every byte; and encoding that must give the same bytes (the encoding is canonical).
    static func check(_ decoded: DecodeOutcome.Decoded, configuration: DecoderConfiguration) {
        let packet = decoded.packet
        let version = decoded.version
        let encoded: ByteBuffer
        do {
            encoded = try packet.encoded(version: version)
        } catch {
            fatalError("encoding a decoded \(packet.type) in \(version) threw \(error): \(packet)")
        }
        require(
            encoded.readableBytes == packet.encodedSize(version: version),
            "encodedSize \(packet.encodedSize(version: version)) but \(encoded.readableBytes) bytes written for \(packet)")
        require(
            encoded.readableBytes <= decoded.size,
            "re-encoded \(packet.type) grew from \(decoded.size) to \(encoded.readableBytes) bytes: \(packet)")

        var decoder = PacketDecoder(version: version, options: DecodingOptions(utf8Policy: configuration.options.utf8Policy))
        var buffer = encoded
        let again: Packet?
        do {
            again = try decoder.decode(buffer: &buffer)
        } catch {
            fatalError("decoding the encoding of \(packet) in \(version) threw \(error); bytes \(hex(encoded))")
        }
        require(again == packet, "round trip in \(version) changed \(packet) into \(again.map { "\($0)" } ?? "nil"); bytes \(hex(encoded))")
        require(buffer.readableBytes == 0, "\(buffer.readableBytes) bytes left after decoding the encoding of \(packet)")

        var appended = ByteBuffer(bytes: [0xEE])
        do {
            try again?.write(to: &appended, version: version)
        } catch {
            fatalError("re-encoding \(packet) threw \(error)")
        }
        require(
            appended.readableBytesView.dropFirst().elementsEqual(encoded.readableBytesView),
            "encoding is not canonical for \(packet): \(hex(encoded)) then \(hex(appended))")
    }

    private static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
