// swift-tools-version:6.0

import PackageDescription

let package = Package(
    name: "tsee",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tsee", targets: ["tsee"]),
        .executable(name: "tsee-bench", targets: ["Benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries, each behind its own module and imported by exactly one Swift module.
        .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
        .systemLibrary(name: "CSQLite3", path: "Sources/CSQLite3", pkgConfig: "sqlite3"),
        .systemLibrary(
            name: "CMosquitto", path: "Sources/CMosquitto", pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]),

        // The shared vocabulary: TUIDs, models and kinds, statuses, the command catalogue, durations. No dependencies.
        .target(name: "ThingseeKit"),
        // The Open Service API: models, HTTP client, token handling.
        .target(
            name: "ThingseeAPI",
            dependencies: [
                "ThingseeKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
            ]
        ),
        // The rules language: lexer, parser, diagnostics, evaluator. Pure: no I/O.
        .target(name: "Rules", dependencies: ["ThingseeKit"]),
        // The store: action log, rule state, cursors, cycles, leases; SQLite and PostgreSQL behind one protocol.
        .target(
            name: "Store",
            dependencies: [
                "CSQLite3", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // The data integration stream: MQTT subscriber and publisher over libmosquitto.
        .target(name: "Stream", dependencies: ["CMosquitto", "ThingseeKit"]),
        // The built-in API simulator: virtual fleet + HTTP server. Written from the API document,
        // deliberately independent of ThingseeAPI's types.
        .target(
            name: "Simulator",
            dependencies: [
                "Stream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),
        // The scheduler: polling, evaluation, exactly-once actions, reconciliation.
        .target(
            name: "Automation",
            dependencies: [
                "ThingseeAPI", "Rules", "Store", "Stream", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Running as a service: the metrics and health endpoint, systemd notifications.
        .target(
            name: "Service",
            dependencies: [
                "ThingseeKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The configuration file: profiles (deployments) and notification targets.
        .target(name: "Profiles", dependencies: ["ThingseeKit", .product(name: "TOMLKit", package: "TOMLKit")]),
        // The REPL and script runner: command table, parsing, completion, output.
        .target(
            name: "REPL",
            dependencies: ["ThingseeKit", "ThingseeAPI", "Rules", "Store", "Automation", "Profiles", "Stream", "CReadline"]),
        // Thin executable: argument parsing and wiring.
        .executableTarget(
            name: "tsee",
            dependencies: [
                "REPL", "Automation", "Simulator", "Stream", "ThingseeAPI", "Rules", "Store", "Profiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                "Service", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The numbers of BENCHMARKS.md (`scripts/bench`).
        .executableTarget(
            name: "Benchmarks",
            dependencies: [
                "Rules", "ThingseeAPI", "Store", "Automation", "Simulator", "Stream", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),

        // Shared by the test targets: a simulator on 127.0.0.1:0 and a client logged in to it, a mosquitto broker.
        .target(
            name: "TestSupport",
            dependencies: [
                "Simulator", "ThingseeAPI", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ], path: "Tests/TestSupport"),
        .testTarget(
            name: "ThingseeAPITests",
            dependencies: [
                "ThingseeAPI", "Simulator", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
            ]
        ),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "ThingseeKit", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "TestSupport"]),
        .testTarget(name: "StreamTests", dependencies: ["Stream", "Simulator", "TestSupport"]),
        .testTarget(
            name: "AutomationTests",
            dependencies: [
                "Automation", "Simulator", "ThingseeAPI", "Rules", "Store", "Stream", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]),
        .testTarget(name: "REPLTests", dependencies: ["REPL", "Simulator", "ThingseeAPI", "Profiles"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Simulator", "Stream", "TestSupport"]),
        .testTarget(
            name: "ServiceTests",
            dependencies: ["Service", .product(name: "Prometheus", package: "swift-prometheus")]),
    ]
)
