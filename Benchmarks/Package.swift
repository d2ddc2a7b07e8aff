// swift-tools-version: 6.1
import PackageDescription

// Kept apart from the root package so that its `swift build` and `swift test` never build the benchmark
// framework. Run with `swift package --package-path Benchmarks benchmark` (see README.md).
let package = Package(
    name: "StarlingBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Starling", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Only the malloc interposer: the framework's default traits add a runtime interposer on Linux with
        // Swift 6.3 that this project does not need (allocation counts come from the malloc interposer).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The packets measured, shared by the benchmarks and the profiling loop.
        .target(
            name: "CodecFixtures",
            dependencies: [
                .product(name: "MQTT", package: "Starling"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // A plain loop over one codec operation, to run under `valgrind --tool=callgrind` (see README.md).
        .executableTarget(
            name: "CodecProfile",
            dependencies: [
                "CodecFixtures",
                .product(name: "MQTT", package: "Starling"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                "CodecFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MQTT", package: "Starling"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // The publish path on embedded channels and the subscriptions matched, shared by the benchmarks and the
        // profiling loop.
        .target(
            name: "BrokerFixtures",
            dependencies: [
                .product(name: "MQTT", package: "Starling"),
                .product(name: "StarlingBroker", package: "Starling"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // A plain loop over the publish path or topic matching, to run under heaptrack or callgrind (see README.md).
        .executableTarget(
            name: "BrokerProfile",
            dependencies: [
                "BrokerFixtures",
                .product(name: "MQTT", package: "Starling"),
                .product(name: "StarlingBroker", package: "Starling"),
            ]
        ),
        .executableTarget(
            name: "BrokerBenchmarks",
            dependencies: [
                "BrokerFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MQTT", package: "Starling"),
                .product(name: "StarlingBroker", package: "Starling"),
            ],
            path: "Benchmarks/BrokerBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
