import MQTT
import NIOCore
import Testing

/// Decodes the single packet `bytes` hold, requiring that all of them were used.
func decodePacket(
    _ bytes: [UInt8], version: ProtocolVersion?, options: DecodingOptions = DecodingOptions()
) throws -> Packet? {
    var decoder = PacketDecoder(version: version, options: options)
    var buffer = ByteBuffer(bytes: bytes)
    let packet = try decoder.decode(buffer: &buffer)
    if packet != nil {
        #expect(buffer.readableBytes == 0, "the decoder left \(buffer.readableBytes) bytes of a single packet")
    }
    return packet
}

/// Expects decoding `bytes` to throw exactly `kind`, answered with `reasonCode`, rather than to succeed or wait.
func expectDecodingError(
    _ bytes: [UInt8], version: ProtocolVersion?, options: DecodingOptions = DecodingOptions(),
    _ kind: MQTTError.Kind, _ reasonCode: ReasonCode, sourceLocation: SourceLocation = #_sourceLocation
) {
    var decoder = PacketDecoder(version: version, options: options)
    var buffer = ByteBuffer(bytes: bytes)
    let error = #expect(throws: MQTTError.self, sourceLocation: sourceLocation) {
        try decoder.decode(buffer: &buffer)
    }
    #expect(error?.kind == kind, sourceLocation: sourceLocation)
    #expect(error?.reasonCode == reasonCode, sourceLocation: sourceLocation)
}
