// swift-tools-version: 6.1
import PackageDescription

// Built on its own (see run.sh) so that the root package's `swift build` and `swift test` never see it:
// it needs the fuzzer and address sanitizer runtimes.
let package = Package(
    name: "StarlingFuzz",
    dependencies: [
        .package(name: "Starling", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzPacketDecoder",
            dependencies: [
                .product(name: "MQTT", package: "Starling"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
