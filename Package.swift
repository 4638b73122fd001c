// swift-tools-version: 6.1
//
// secagg: secure aggregation (Bonawitz et al. 2017, SecAgg+ of Bell et al. 2020) in Swift.
//
// Layering, downward only (see README "Layout"):
//   CSodium -> SecAggCrypto (the only importer of libsodium)
//   SecAggMath (Shamir over GF(2^61-1), Z_{2^bits} vectors, neighbour graphs, (k, t) parameter finder)
//   SecAggNoise (Noise_XX_25519_ChaChaPoly_BLAKE2b handshake and transport cipher states, sans-IO)
//   SecAggPrivacy (exact discrete Gaussian noise, zCDP accountant, vector encoders)
//   SecAggWire (canonical codec and messages, no dependencies)
//   SecAggProtocol (sans-IO state machines; Crypto + Math + Privacy + Wire)
//   SecAggSimulation (seeded randomness, in-process round driver; never linked by a daemon or client)
//   SecAggVectors (known-answer vectors of protocol/vectors: generate and verify; never linked by a daemon or client)
//   SecAggTransport (TCP framing + Noise XX secure channel on SwiftNIO)
//   SecAggClient, SecAggCoordinator (client library; coordinator service with deadlines and round scheduling,
//     durable SQLite store through GRDB, admin listener, audit log, metrics)
//   SecAggCABI (C ABI over SecAggClient and the client state machine: libsecaggc.so, Sources/CSecAgg/secagg.h)
//   SecAggYAMLSchema (unknown keys of YAML documents), SecAggPlot (SVG charts), SecAggExperiment (sweeps, results,
//     figures; over SecAggSimulation)
//   secagg (command line), secaggd (daemon)
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "secagg",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SecAggCrypto", targets: ["SecAggCrypto"]),
        .library(name: "SecAggMath", targets: ["SecAggMath"]),
        .library(name: "SecAggWire", targets: ["SecAggWire"]),
        .library(name: "SecAggPrivacy", targets: ["SecAggPrivacy"]),
        .library(name: "SecAggNoise", targets: ["SecAggNoise"]),
        .library(name: "SecAggProtocol", targets: ["SecAggProtocol"]),
        .library(name: "SecAggSimulation", targets: ["SecAggSimulation"]),
        .library(name: "SecAggVectors", targets: ["SecAggVectors"]),
        .library(name: "SecAggIdentity", targets: ["SecAggIdentity"]),
        .library(name: "SecAggTransport", targets: ["SecAggTransport"]),
        .library(name: "SecAggClient", targets: ["SecAggClient"]),
        .library(name: "SecAggCoordinator", targets: ["SecAggCoordinator"]),
        .library(name: "SecAggFederation", targets: ["SecAggFederation"]),
        .library(name: "SecAggRoot", targets: ["SecAggRoot"]),
        .executable(name: "secagg", targets: ["secagg"]),
        .executable(name: "secaggd", targets: ["secaggd"]),
        .executable(name: "secagg-root", targets: ["secagg-root"]),
        // The C ABI (libsecaggc.so; "secagg" names the CLI) with the header Sources/CSecAgg/secagg.h.
        .library(name: "secaggc", type: .dynamic, targets: ["SecAggCABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "SecAggCrypto", dependencies: ["CSodium"], swiftSettings: strictSettings),
        .target(name: "SecAggMath", dependencies: ["SecAggCrypto"], swiftSettings: strictSettings),
        .target(name: "SecAggWire", swiftSettings: strictSettings),
        .target(name: "SecAggIdentity", dependencies: ["SecAggCrypto", "SecAggWire"], swiftSettings: strictSettings),
        // SecAggWire for NoisySumModulus: the planner recommends bits with the rule round validation enforces.
        .target(name: "SecAggFederation", dependencies: ["SecAggCrypto", "SecAggMath", "SecAggWire"], swiftSettings: strictSettings),
        .target(name: "SecAggPrivacy", dependencies: ["SecAggCrypto", "SecAggMath", "SecAggWire"], swiftSettings: strictSettings),
        .target(name: "SecAggNoise", dependencies: ["SecAggCrypto"], swiftSettings: strictSettings),
        .target(name: "SecAggProtocol", dependencies: ["SecAggCrypto", "SecAggMath", "SecAggPrivacy", "SecAggWire"], swiftSettings: strictSettings),
        .target(name: "SecAggSimulation", dependencies: ["SecAggProtocol", "SecAggMath", "SecAggPrivacy", "SecAggCrypto", "SecAggWire"], swiftSettings: strictSettings),
        .target(
            name: "SecAggVectors",
            dependencies: [
                "SecAggSimulation", "SecAggProtocol", "SecAggFederation", "SecAggMath", "SecAggPrivacy", "SecAggCrypto",
                "SecAggWire",
            ],
            swiftSettings: strictSettings),
        // The unknown-key check of YAML documents (with line and did-you-mean), shared by the daemon's configuration
        // and `secagg experiment` files.
        .target(
            name: "SecAggYAMLSchema", dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings),
        // SVG charts (axes, log scales, legends, stacked bars); no dependencies.
        .target(name: "SecAggPlot", swiftSettings: strictSettings),
        // Experiment files, sweeps over `secagg simulate` options, result files (CSV, JSON Lines) and their figures.
        .target(
            name: "SecAggExperiment",
            dependencies: [
                "SecAggSimulation", "SecAggPlot", "SecAggYAMLSchema", "SecAggProtocol", "SecAggPrivacy", "SecAggWire",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "SecAggTransport",
            dependencies: [
                "SecAggNoise", "SecAggCrypto", "SecAggWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // Locks ThreadSanitizer can see (Synchronization.Mutex's contended path is invisible to it).
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SecAggClient",
            dependencies: [
                "SecAggIdentity", "SecAggTransport", "SecAggProtocol", "SecAggCrypto", "SecAggWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SecAggCoordinator",
            dependencies: [
                "SecAggIdentity", "SecAggTransport", "SecAggProtocol", "SecAggFederation", "SecAggMath", "SecAggPrivacy",
                "SecAggCrypto", "SecAggWire",
                "SecAggYAMLSchema",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // The root of a sharded deployment (protocol/FEDERATION.md): placement, tasks pushed to shards, global
        // rounds and the global ledger, over the shards' admin listeners.
        .target(
            name: "SecAggRoot",
            dependencies: [
                "SecAggCoordinator", "SecAggFederation", "SecAggTransport", "SecAggIdentity", "SecAggPrivacy",
                "SecAggCrypto", "SecAggWire", "SecAggYAMLSchema",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(name: "CSecAgg"),
        .target(
            name: "SecAggCABI",
            dependencies: [
                "CSecAgg", "SecAggClient", "SecAggIdentity", "SecAggTransport", "SecAggProtocol", "SecAggCrypto", "SecAggWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "secagg",
            dependencies: [
                "SecAggSimulation", "SecAggProtocol", "SecAggMath", "SecAggCrypto", "SecAggWire",
                "SecAggClient", "SecAggCoordinator", "SecAggIdentity", "SecAggTransport", "SecAggPrivacy", "SecAggVectors",
                "SecAggExperiment", "SecAggPlot", "SecAggRoot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // A test tool, not a product: a client that exits abruptly at a chosen phase (end-to-end crash tests).
        .executableTarget(
            name: "secagg-crashing-client",
            dependencies: ["SecAggClient", "SecAggIdentity", "SecAggProtocol"],
            path: "Tests/CrashingClient",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "secaggd",
            dependencies: [
                "SecAggCoordinator", "SecAggWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "secagg-root",
            dependencies: [
                "SecAggRoot", "SecAggCoordinator", "SecAggWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SecAggCryptoTests", dependencies: ["SecAggCrypto"], swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggFederationTests",
            dependencies: [
                "SecAggFederation", "SecAggCrypto", "SecAggMath", "SecAggWire",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggRootTests",
            dependencies: ["SecAggRoot", "SecAggCoordinator", "SecAggFederation", "SecAggCrypto", "SecAggMath", "SecAggWire",
                           "SecAggSimulation", "SecAggPrivacy"],
            swiftSettings: strictSettings),
        .testTarget(name: "SecAggMathTests", dependencies: ["SecAggMath", "SecAggCrypto"], swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggNoiseTests", dependencies: ["SecAggNoise", "SecAggCrypto"],
            resources: [.copy("Vectors")], swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggPrivacyTests", dependencies: ["SecAggPrivacy", "SecAggCrypto", "SecAggMath"],
            swiftSettings: strictSettings),
        .testTarget(name: "SecAggWireTests", dependencies: ["SecAggWire"], swiftSettings: strictSettings),
        // What the test suites share (not a product): the protocol round fixture, the coordinator service harness,
        // the process world (real secaggd and client processes), awaitable logs, events and exits, fixtures.
        .target(
            name: "SecAggTesting",
            dependencies: [
                "SecAggClient", "SecAggCoordinator", "SecAggCrypto", "SecAggIdentity", "SecAggMath", "SecAggPrivacy",
                "SecAggProtocol", "SecAggSimulation", "SecAggTransport", "SecAggWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SecAggTesting",
            swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggProtocolTests", dependencies: ["SecAggProtocol", "SecAggSimulation", "SecAggTesting"],
            swiftSettings: strictSettings),
        .testTarget(name: "SecAggSimulationTests", dependencies: ["SecAggSimulation"], swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggExperimentTests",
            dependencies: ["SecAggExperiment", "SecAggSimulation", "SecAggPrivacy", "SecAggWire", "SecAggYAMLSchema"],
            swiftSettings: strictSettings),
        .testTarget(name: "SecAggPlotTests", dependencies: ["SecAggPlot"], swiftSettings: strictSettings),
        .testTarget(name: "SecAggVectorsTests", dependencies: ["SecAggVectors"], swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggTransportTests",
            dependencies: [
                "SecAggTransport", "SecAggNoise", "SecAggCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        // The coordinator without sockets: store, audit log, configuration, published results.
        .testTarget(
            name: "SecAggCoordinatorTests",
            dependencies: [
                "SecAggCoordinator", "SecAggIdentity", "SecAggTransport", "SecAggProtocol", "SecAggSimulation", "SecAggCrypto",
                "SecAggNoise", "SecAggPrivacy", "SecAggWire", "SecAggTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggNetworkTests",
            dependencies: [
                "SecAggCoordinator", "SecAggClient", "SecAggIdentity", "SecAggTransport", "SecAggProtocol", "SecAggSimulation",
                "SecAggCrypto", "SecAggMath", "SecAggWire", "SecAggTesting", "SecAggFederation", "SecAggRoot",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // To tamper with a store as an attacker or a lost WAL would (StoreAuditCrossCheckTests).
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "SecAggCABITests",
            dependencies: ["SecAggCABI", "CSecAgg", "SecAggProtocol", "SecAggSimulation", "SecAggCrypto", "SecAggWire", "SecAggTesting"],
            swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
