// swift-tools-version:6.0
import PackageDescription

// Dependencies run one way:
// CURing, COpenBLAS → DemandIO → DemandFormat, DemandTensor → DemandLayer → DemandZoo → demandlayer (CLI)
let package = Package(
    name: "demandlayer",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DemandLayer", targets: ["DemandLayer"]),
        .executable(name: "demandlayer", targets: ["demandlayer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C shims: the only place liburing.h, libaio.h and cblas are seen.
        .target(
            name: "CURing",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("aio")]
        ),
        .target(
            name: "COpenBLAS",
            linkerSettings: [.linkedLibrary("openblas")]
        ),

        // The library.
        .target(name: "DemandIO", dependencies: ["CURing"]),
        .target(name: "DemandTensor", dependencies: ["COpenBLAS"]),
        .target(name: "DemandFormat", dependencies: ["CURing", "DemandIO", "DemandTensor"]),
        .target(name: "DemandLayer", dependencies: ["CURing", "DemandIO", "DemandFormat", "DemandTensor"]),
        .target(name: "DemandZoo", dependencies: ["DemandFormat", "DemandTensor"]),

        // The CLI.
        .executableTarget(
            name: "demandlayer",
            dependencies: [
                "DemandLayer", "DemandZoo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Tests: one target per module, plus end-to-end CLI tests.
        .target(name: "DemandTestSupport", dependencies: ["DemandFormat", "DemandTensor", "DemandZoo"], path: "Tests/Support"),
        .testTarget(name: "DemandIOTests", dependencies: ["DemandIO"]),
        .testTarget(name: "DemandTensorTests", dependencies: ["DemandTensor", "DemandTestSupport", "DemandZoo"]),
        .testTarget(name: "DemandFormatTests", dependencies: ["DemandFormat", "DemandZoo", "DemandTestSupport"]),
        .testTarget(name: "DemandLayerTests", dependencies: ["DemandLayer", "DemandZoo", "DemandTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["demandlayer", "DemandLayer", "DemandFormat", "DemandTestSupport"]),
    ]
)
