// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-kafka-worker",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .library(name: "KafkaWorker", targets: ["KafkaWorker"]),
        .library(name: "KafkaWorkerSQLite", targets: ["KafkaWorkerSQLite"]),
        .library(name: "KafkaWorkerPostgres", targets: ["KafkaWorkerPostgres"]),
        .library(name: "KafkaWorkerRedis", targets: ["KafkaWorkerRedis"]),
        .library(name: "KafkaWorkerTesting", targets: ["KafkaWorkerTesting"]),
        .executable(name: "kafka-worker", targets: ["KafkaWorkerCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "Crdkafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .target(
            name: "KafkaClient",
            dependencies: [
                "Crdkafka",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "KafkaWorker",
            dependencies: [
                "KafkaClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "KafkaWorkerSQLite",
            dependencies: ["KafkaWorker", "KafkaClient", "CSQLite"],
            swiftSettings: strict
        ),
        .target(
            name: "KafkaWorkerPostgres",
            dependencies: [
                "KafkaWorker",
                "KafkaClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "KafkaWorkerRedis",
            dependencies: [
                "KafkaWorker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "KafkaWorkerTesting",
            dependencies: [
                "KafkaClient",
                "KafkaWorker",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "KafkaWorkerCLI",
            dependencies: [
                "KafkaClient",
                "KafkaWorker",
                "KafkaWorkerSQLite",
                "KafkaWorkerPostgres",
                "KafkaWorkerTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaClientTests",
            dependencies: [
                "KafkaClient",
                "KafkaWorkerTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaWorkerTests",
            dependencies: [
                "KafkaWorker",
                "KafkaWorkerTesting",
                "KafkaClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaWorkerStoreTests",
            dependencies: [
                "KafkaWorker",
                "KafkaWorkerSQLite",
                "KafkaWorkerPostgres",
                "KafkaWorkerRedis",
                "KafkaWorkerTesting",
                "KafkaClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaWorkerCLITests",
            dependencies: [
                "KafkaWorkerCLI", "KafkaWorkerTesting", "KafkaWorkerSQLite", "KafkaWorkerPostgres", "KafkaWorker", "KafkaClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
