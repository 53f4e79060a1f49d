// swift-tools-version:6.0
import PackageDescription

// Dependencies run one way:
// CURing, COpenBLAS → DemandIO → DemandFormat, DemandTensor → DemandLayer → DemandZoo → demandlayer (CLI)
//                                                          DemandLayer → DemandLayerC (C API), classify-swift (example)
let package = Package(
    name: "demandlayer",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DemandLayer", targets: ["DemandLayer"]),
        // The C API: libDemandLayerC.so, installed as libdemandlayer.so by Tools/install-lib.sh.
        .library(name: "DemandLayerC", type: .dynamic, targets: ["DemandLayerC"]),
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

        // The C API: demandlayer.h (CDemandLayer) implemented in Swift with @_cdecl.
        .target(name: "CDemandLayer"),
        .target(name: "DemandLayerC", dependencies: ["CDemandLayer", "DemandLayer"]),

        // Examples that link the library (the C one is built by Tools/ci/20-examples.sh).
        .executableTarget(name: "classify-swift", dependencies: ["DemandLayer"], path: "Examples/swift/classify"),

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
        .testTarget(name: "DemandLayerCTests", dependencies: ["CDemandLayer", "DemandLayerC", "DemandLayer", "DemandTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["demandlayer", "DemandLayer", "DemandFormat", "DemandTestSupport"]),
    ]
)
