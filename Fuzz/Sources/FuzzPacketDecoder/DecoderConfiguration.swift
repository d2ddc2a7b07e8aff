import MQTT

/// One way of setting up a `PacketDecoder`.
struct DecoderConfiguration: Sendable, CustomStringConvertible {
    var version: ProtocolVersion?
    var options: DecodingOptions

    /// Small enough that most real packets, the fixtures included, fall on either side of it.
    static let smallMaximumPacketSize = 32

    /// Every version (nil: before CONNECT), each with a small maximum packet size and with the default one;
    /// the lenient UTF-8 policy only with the default size, as the size check comes before any string is read.
    static let all: [DecoderConfiguration] = [nil, .v3_1, .v3_1_1, .v5].flatMap { version in
        [
            DecoderConfiguration(version: version, options: DecodingOptions(maximumPacketSize: smallMaximumPacketSize)),
            DecoderConfiguration(version: version, options: DecodingOptions()),
            DecoderConfiguration(version: version, options: DecodingOptions(utf8Policy: .wellFormed)),
        ]
    }

    var description: String {
        "version \(version.map { "\($0)" } ?? "nil"), maximum packet size \(options.maximumPacketSize), \(options.utf8Policy)"
    }
}
