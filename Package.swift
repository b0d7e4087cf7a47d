// swift-tools-version:6.0
import PackageDescription

// Hot C loops are compiled for the building machine: snna is built from source where it runs.
let fastC: [CSetting] = [.unsafeFlags(["-O3", "-march=native", "-ffast-math", "-fveclib=libmvec"])]
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "snna",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "snna", targets: ["snna"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-pthread-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "CKernels", cSettings: fastC, linkerSettings: [.linkedLibrary("mvec"), .linkedLibrary("m")]),

        .target(name: "SNNAKernels", dependencies: ["CKernels", "COpenBLAS"], swiftSettings: swift6),
        .target(name: "SNNAModel", dependencies: ["SNNAKernels"], swiftSettings: swift6),
        .target(name: "SNNAAttribution", dependencies: ["SNNAModel", "SNNAKernels"], swiftSettings: swift6),
        .target(name: "SNNAMedia", dependencies: ["CFFmpeg", "CPNG"], swiftSettings: swift6),
        .executableTarget(name: "snna", dependencies: [
            "SNNAAttribution", "SNNAModel", "SNNAKernels", "SNNAMedia",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift6),

        .testTarget(name: "SNNAKernelsTests", dependencies: ["SNNAKernels"], swiftSettings: swift6),
        .testTarget(name: "SNNAModelTests", dependencies: ["SNNAModel", "SNNAKernels"], swiftSettings: swift6),
        .testTarget(name: "SNNAAttributionTests", dependencies: ["SNNAAttribution", "SNNAModel", "SNNAKernels"],
                    swiftSettings: swift6),
        .testTarget(name: "SNNAMediaTests", dependencies: ["SNNAMedia"], swiftSettings: swift6),
        .testTarget(name: "SNNACLITests", dependencies: ["SNNAModel", "SNNAMedia"], swiftSettings: swift6),
    ]
)
