// swift-tools-version:6.0
import PackageDescription

// Hot C loops: vectorised with AVX2/FMA (x86-64-v3, any x86 server of the last decade) rather than -march=native, so
// a binary built on one machine runs on another; fast-math for reassociation and libmvec's vector expf/erff, but
// keeping IEEE infinities (the softmax starts its max at -inf).
#if arch(x86_64)
let cpuFlags = ["-march=x86-64-v3"]
#else
let cpuFlags: [String] = []
#endif
let fastC: [CSetting] = [.unsafeFlags(["-O3"] + cpuFlags + ["-ffast-math", "-fno-finite-math-only", "-fveclib=libmvec"])]
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "snna",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "snna", targets: ["snna"]),
        // The library, for programs other than the CLI (and for the fuzz targets in Fuzz/, built as a separate
        // package with libFuzzer instrumentation).
        .library(name: "SNNAMedia", targets: ["SNNAMedia"]),
        .library(name: "SNNAModel", targets: ["SNNAModel"]),
        .library(name: "SNNAModelImport", targets: ["SNNAModelImport"]),
        .library(name: "SNNAEvaluation", targets: ["SNNAEvaluation"]),
        .library(name: "SNNAPipeline", targets: ["SNNAPipeline"]),
        .library(name: "SNNAService", targets: ["SNNAService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-pthread-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "CKernels", cSettings: fastC, linkerSettings: [.linkedLibrary("mvec"), .linkedLibrary("m")]),

        .target(name: "SNNAKernels", dependencies: ["CKernels", "COpenBLAS"], swiftSettings: swift6),
        .target(name: "SNNAModel", dependencies: ["SNNAKernels"], swiftSettings: swift6),
        .target(name: "SNNAAttribution", dependencies: ["SNNAModel", "SNNAKernels"], swiftSettings: swift6),
        .target(name: "SNNAMedia", dependencies: ["CFFmpeg", "CPNG"], swiftSettings: swift6),
        .target(name: "SNNAModelImport", dependencies: ["SNNAModel", "SNNAKernels"], swiftSettings: swift6),
        .target(name: "CSNNASystem"),
        .target(name: "SNNASamples", dependencies: ["SNNAMedia"], swiftSettings: swift6),
        .target(name: "SNNAEvaluation", dependencies: ["SNNAAttribution", "SNNAModel", "SNNAKernels", "SNNAMedia"],
                swiftSettings: swift6),
        .target(name: "SNNAPipeline", dependencies: ["SNNAAttribution", "SNNAModel", "SNNAKernels", "SNNAMedia", "CSNNASystem"],
                swiftSettings: swift6),
        .target(name: "SNNAService", dependencies: ["SNNAPipeline", "SNNAAttribution", "SNNAModel", "SNNAMedia", "CSystemd",
                                                    "CSNNASystem", "SNNAKernels",
                                                    .product(name: "Yams", package: "Yams"),
                                                    .product(name: "GRDB", package: "GRDB.swift"),
                                                    .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "Hummingbird", package: "hummingbird"),
                                                    .product(name: "Metrics", package: "swift-metrics"),
                                                    .product(name: "Prometheus", package: "swift-prometheus"),
                                                    .product(name: "Crypto", package: "swift-crypto"),
                                                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: swift6),
        .executableTarget(name: "snna", dependencies: [
            "SNNAService",
            "SNNAPipeline", "SNNAModelImport", "SNNASamples", "SNNAEvaluation", "SNNAAttribution", "SNNAModel", "SNNAKernels", "SNNAMedia",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift6),

        .testTarget(name: "SNNAKernelsTests", dependencies: ["SNNAKernels"], swiftSettings: swift6),
        .testTarget(name: "SNNAModelTests", dependencies: ["SNNAModel", "SNNAKernels"], swiftSettings: swift6),
        .testTarget(name: "SNNAAttributionTests", dependencies: ["SNNAAttribution", "SNNAModel", "SNNAKernels"],
                    swiftSettings: swift6),
        .testTarget(name: "SNNAMediaTests", dependencies: ["SNNAMedia"], swiftSettings: swift6),
        .testTarget(name: "SNNACLITests", dependencies: ["SNNAModel", "SNNAMedia", "SNNAKernels"], swiftSettings: swift6),
        .testTarget(name: "SNNAModelImportTests", dependencies: ["SNNAModelImport", "SNNAModel", "SNNAKernels"],
                    exclude: ["Corpus"], swiftSettings: swift6),
        .testTarget(name: "SNNAServiceTests", dependencies: ["SNNAService", "SNNAPipeline"], swiftSettings: swift6),
        .testTarget(name: "SNNASamplesTests", dependencies: ["SNNASamples", "SNNAMedia"], swiftSettings: swift6),
        .testTarget(name: "SNNAEvaluationTests", dependencies: ["SNNAEvaluation", "SNNAAttribution", "SNNAModel", "SNNAKernels"],
                    swiftSettings: swift6),
        .testTarget(name: "SNNAPipelineTests", dependencies: ["SNNAPipeline", "SNNAModel", "SNNAMedia", "SNNAKernels"],
                    swiftSettings: swift6),
    ]
)
