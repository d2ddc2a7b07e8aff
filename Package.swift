// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Starling",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "StarlingBroker", targets: ["StarlingBroker"]),
        .library(name: "StarlingClient", targets: ["StarlingClient"]),
        .library(name: "StarlingSQLite", targets: ["StarlingSQLite"]),
        .library(name: "StarlingPostgres", targets: ["StarlingPostgres"]),
        .library(name: "StarlingCluster", targets: ["StarlingCluster"]),
        .library(name: "StarlingTesting", targets: ["StarlingTesting"]),
        .library(name: "StarlingOperations", targets: ["StarlingOperations"]),
        .library(name: "StarlingBridge", targets: ["StarlingBridge"]),
        .executable(name: "starling", targets: ["starling"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The wire protocol: packets, properties, reason codes, codec. No I/O.
        .target(
            name: "MQTT",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // epoll and eventfd, which Glibc's Swift module does not include; empty on other systems.
        .target(name: "CStarlingLinux"),
        // MQTT's byte stream in WebSocket frames and RFC 6455's rules, shared by the broker and the client.
        .target(
            name: "StarlingWebSocket",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // The embeddable broker.
        .target(
            name: "StarlingBroker",
            dependencies: [
                "MQTT",
                "CStarlingLinux",
                "StarlingWebSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "StarlingSCRAM",
            ]
        ),
        // SCRAM-SHA-256's arithmetic, shared by the broker's authenticator and the client's.
        .target(
            name: "StarlingSCRAM",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The operations listener: Prometheus metrics, health, the admin API and the dashboard, over HTTP.
        .target(
            name: "StarlingOperations",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),
        // Bridges to other brokers, made of two clients of the client library.
        .target(
            name: "StarlingBridge",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The `starling` configuration file, STARLING_ environment variables and flags, turned into a
        // BrokerConfiguration; kept out of the broker so that embedders need no YAML.
        .target(
            name: "StarlingConfiguration",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingBridge",
                "StarlingClient",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The broker's store on SQLite.
        .target(
            name: "StarlingSQLite",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingClient",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The broker's store on PostgreSQL, and the backbone of a cluster.
        .target(
            name: "StarlingPostgres",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Several brokers as one, on PostgreSQL: membership, routes and the links between nodes.
        .target(
            name: "StarlingCluster",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingClient",
                "StarlingPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The client library.
        .target(
            name: "StarlingClient",
            dependencies: [
                "MQTT",
                "StarlingWebSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
                "StarlingSCRAM",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // An in-process broker on a free port and a raw MQTT client, for the tests of Starling and of the
        // applications that embed it.
        .target(
            name: "StarlingTesting",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The load generator behind `starling bench`.
        .target(
            name: "StarlingBench",
            dependencies: [
                "MQTT",
                "CStarlingLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The command line: argument parsing and wiring only.
        .executableTarget(
            name: "starling",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingConfiguration",
                "StarlingClient",
                "StarlingBench",
                "StarlingSQLite",
                "StarlingPostgres",
                "StarlingCluster",
                "StarlingOperations",
                "StarlingBridge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "EmbeddedBroker",
            dependencies: ["StarlingBroker"],
            path: "Examples/EmbeddedBroker"
        ),
        .executableTarget(
            name: "SecureBroker",
            dependencies: ["StarlingBroker"],
            path: "Examples/SecureBroker"
        ),
        .executableTarget(
            name: "Publisher",
            dependencies: ["StarlingClient"],
            path: "Examples/Publisher"
        ),
        .executableTarget(
            name: "Subscriber",
            dependencies: ["StarlingClient"],
            path: "Examples/Subscriber"
        ),
        // What several test targets share and embedders need not: child processes started without Foundation's
        // `Process`, mosquitto run as one, and the test certificates.
        .target(
            name: "StarlingTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/StarlingTestSupport"
        ),
        .testTarget(
            name: "MQTTTests",
            dependencies: [
                "MQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "StarlingBrokerTests",
            dependencies: [
                "StarlingTesting",
                "StarlingTestSupport",
                "StarlingWebSocket",
                "MQTT",
                "StarlingBroker",
                "StarlingClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "StarlingConfigurationTests",
            dependencies: [
                "StarlingTestSupport",
                "MQTT",
                "StarlingBroker",
                "StarlingConfiguration",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "StarlingBenchTests",
            dependencies: [
                "StarlingBench", "MQTT", "StarlingTesting", "StarlingBroker", "StarlingTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StarlingSQLiteTests",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingSQLite",
                "StarlingClient",
                "StarlingTesting",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StarlingPostgresTests",
            dependencies: [
                "MQTT",
                "StarlingBroker",
                "StarlingPostgres",
                "StarlingCluster",
                "StarlingClient",
                "StarlingTesting",
                "StarlingTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StarlingClientTests",
            dependencies: [
                "StarlingTesting",
                "StarlingTestSupport",
                "MQTT",
                "StarlingClient",
                "StarlingBroker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StarlingOperationsTests",
            dependencies: [
                "StarlingOperations",
                "StarlingTestSupport",
                "StarlingTesting",
                "StarlingBroker",
                "MQTT",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StarlingBridgeTests",
            dependencies: [
                "StarlingBridge",
                "StarlingTesting",
                "StarlingTestSupport",
                "StarlingBroker",
                "StarlingClient",
                "MQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The `starling` program run as a child process, as a user runs it.
        .testTarget(
            name: "StarlingCommandTests",
            dependencies: ["StarlingTestSupport", "StarlingBroker", "StarlingTesting"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
