// swift-tools-version: 6.1
//
// libFuzzer targets for every decoder that reads network or operator input (README "Fuzzing", scripts/fuzz).
// A separate package so the main build never links libFuzzer; build it with
// `swift build -c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address` (scripts/fuzz does).
import Foundation
import PackageDescription

// The main package's identity is its folder's name (whatever a clone is called).
let secagg = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
    .lowercased()

let package = Package(
    name: "secagg-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                .product(name: "SecAggWire", package: secagg), .product(name: "SecAggFederation", package: secagg),
            ]),
        .executableTarget(
            name: "FuzzFraming",
            dependencies: [
                .product(name: "SecAggTransport", package: secagg),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "FuzzNoise",
            dependencies: [
                .product(name: "SecAggNoise", package: secagg),
                .product(name: "SecAggCrypto", package: secagg),
            ]),
        .executableTarget(
            name: "FuzzClient",
            dependencies: [
                .product(name: "SecAggProtocol", package: secagg),
                .product(name: "SecAggCrypto", package: secagg),
                .product(name: "SecAggWire", package: secagg),
            ]),
        .executableTarget(
            name: "FuzzConfiguration",
            dependencies: [.product(name: "SecAggCoordinator", package: secagg)]),
    ],
    swiftLanguageModes: [.v6]
)
