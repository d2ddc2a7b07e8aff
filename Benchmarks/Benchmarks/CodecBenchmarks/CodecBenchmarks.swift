import Benchmark
import CodecFixtures
import MQTT
import NIOCore

/// Decode and encode of the PUBLISH packets in `PublishFixture.all`.
///
/// Every benchmark runs its body a million times per iteration (`.mega` scaling), and the framework reports
/// each metric per packet: throughput in packets per second, malloc calls per packet.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 10
    )

    for fixture in PublishFixture.all {
        // The decoder sees a fresh copy of the same bytes each time; copying a ByteBuffer only retains its storage.
        Benchmark("Decode \(fixture.name)") { benchmark in
            var decoder = PacketDecoder(version: fixture.version)
            for _ in benchmark.scaledIterations {
                var buffer = fixture.bytes
                blackHole(try decoder.decode(buffer: &buffer))
            }
        }

        // As a pipeline's encoder does it: into a buffer that is reused once its bytes have been written out.
        Benchmark("Encode \(fixture.name), reused buffer") { benchmark in
            var buffer = ByteBufferAllocator().buffer(capacity: 256)
            for _ in benchmark.scaledIterations {
                buffer.clear()
                try fixture.packet.write(to: &buffer, version: fixture.version)
                blackHole(buffer)
            }
        }

        Benchmark("Encode \(fixture.name), new buffer") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try fixture.packet.encoded(version: fixture.version))
            }
        }
    }
}
