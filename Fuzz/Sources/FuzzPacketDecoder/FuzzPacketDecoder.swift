import MQTT
import NIOCore

/// The libFuzzer entry point: one input, fed to every decoder configuration, whole and split.
///
/// An input may be any byte stream: several packets, a CONNECT switching the version, or garbage. For each
/// configuration the stream is decoded once whole and once in chunks cut at points derived from the input
/// (libFuzzer needs a run to depend on the input alone). Both runs must agree packet for packet and on the
/// error that ended the stream, and every decoded packet must survive `RoundTrip.check`. The input is also
/// decoded as a single packet framed by `OnePacketFraming`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPacketDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let seed = SplitMix64.seed(hashing: UnsafeRawBufferPointer(input))
    for (index, configuration) in DecoderConfiguration.all.enumerated() {
        let whole = DecodeOutcome.decodingWhole(input, configuration: configuration)
        var random = SplitMix64(seed: seed &+ UInt64(index))
        let split = DecodeOutcome.decodingSplit(input, configuration: configuration, random: &random)
        require(
            whole == split,
            "split feed disagrees with whole feed for \(configuration)\nwhole: \(whole)\nsplit: \(split)")
        for decoded in whole.packets {
            RoundTrip.check(decoded, configuration: configuration)
        }
    }
    OnePacketFraming.frame(input)?.withUnsafeBufferPointer { framed in
        for configuration in DecoderConfiguration.all {
            for decoded in DecodeOutcome.decodingWhole(framed, configuration: configuration).packets {
                RoundTrip.check(decoded, configuration: configuration)
            }
        }
    }
    return 0
}
