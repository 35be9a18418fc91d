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
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C libraries, each behind its own module and imported by exactly one Swift module.
        .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
        .systemLibrary(name: "CSQLite3", path: "Sources/CSQLite3", pkgConfig: "sqlite3"),

        // The shared vocabulary: TUIDs, models and kinds, statuses, the command catalogue, durations. No dependencies.
        .target(name: "ThingseeKit"),
        // The Open Service API: models, HTTP client, token handling.
        .target(name: "ThingseeAPI"),
        // The rules language: lexer, parser, diagnostics, evaluator. Pure: no I/O.
        .target(name: "Rules", dependencies: ["ThingseeKit"]),
        // SQLite: action log, rule state, cursors, cycles.
        .target(name: "Store", dependencies: ["CSQLite3"]),
        // The built-in API simulator: virtual fleet + HTTP server. Written from the API document,
        // deliberately independent of ThingseeAPI's types.
        .target(name: "Simulator", dependencies: [.product(name: "FlyingFox", package: "FlyingFox")]),
        // The scheduler: polling, evaluation, exactly-once actions, reconciliation.
        .target(name: "Automation", dependencies: ["ThingseeAPI", "Rules", "Store"]),
        // The REPL and script runner: command table, parsing, completion, output.
        .target(name: "REPL", dependencies: ["ThingseeAPI", "Rules", "Store", "Automation", "CReadline"]),
        // Thin executable: argument parsing and wiring.
        .executableTarget(
            name: "tsee",
            dependencies: [
                "REPL", "Automation", "Simulator", "ThingseeAPI", "Rules", "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The numbers of BENCHMARKS.md (`scripts/bench`).
        .executableTarget(name: "Benchmarks", dependencies: ["Rules", "ThingseeAPI", "Store"]),

        // Shared by the test targets: a simulator on 127.0.0.1:0 and a client logged in to it.
        .target(name: "TestSupport", dependencies: ["Simulator", "ThingseeAPI"], path: "Tests/TestSupport"),
        .testTarget(name: "ThingseeAPITests", dependencies: ["ThingseeAPI", "Simulator", "TestSupport"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "ThingseeKit"], exclude: ["Fixtures"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator"]),
        .testTarget(
            name: "AutomationTests", dependencies: ["Automation", "Simulator", "ThingseeAPI", "Rules", "Store", "TestSupport"]),
        .testTarget(name: "REPLTests", dependencies: ["REPL", "Simulator", "ThingseeAPI"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Simulator"]),
    ]
)
