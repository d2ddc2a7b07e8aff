import CodecFixtures
import MQTT
import NIOCore

/// Runs one codec operation on one fixture in a loop, for a profiler to look at:
///
///     CodecProfile decode|encode FIXTURE-INDEX [ITERATIONS]
///
/// With no arguments it lists the fixtures. It prints the time per packet as a rough figure; under callgrind
/// the instruction counts are what matters.
@main
enum CodecProfile {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count >= 2, let index = Int(arguments[arguments.startIndex + 1]), PublishFixture.all.indices.contains(index) else {
            print("usage: CodecProfile decode|encode FIXTURE-INDEX [ITERATIONS]")
            for (index, fixture) in PublishFixture.all.enumerated() { print("  \(index): \(fixture.name)") }
            return
        }
        let fixture = PublishFixture.all[index]
        let iterations = arguments.count > 2 ? Int(arguments[arguments.startIndex + 2]) ?? 1_000_000 : 1_000_000
        let clock = ContinuousClock()
        let start = clock.now
        switch arguments.first {
        case "decode":
            var decoder = PacketDecoder(version: fixture.version)
            for _ in 0..<iterations {
                var buffer = fixture.bytes
                guard case .some = try decoder.decode(buffer: &buffer) else { fatalError("fixture did not decode") }
            }
        case "encode":
            var buffer = ByteBufferAllocator().buffer(capacity: 256)
            for _ in 0..<iterations {
                buffer.clear()
                try fixture.packet.write(to: &buffer, version: fixture.version)
            }
            precondition(buffer.readableBytes == fixture.bytes.readableBytes)
        default:
            fatalError("unknown operation \(arguments.first ?? "")")
        }
        let elapsed = clock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        let perPacket = nanoseconds / Double(iterations)
        print("\(arguments.first!) \(fixture.name): \(Int(perPacket.rounded())) ns/packet, \(Int((1e9 / perPacket).rounded())) packets/s")
    }
}
