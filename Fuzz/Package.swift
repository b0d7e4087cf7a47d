// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every parser of untrusted bytes (docs/fuzzing.md). Built by scripts/fuzz.sh as its own
// package, with its own scratch path, so that the fuzzer instrumentation (-sanitize=fuzzer,address) never reaches the
// main build:
//
//     swift build -c release --scratch-path Fuzz/.build-fuzz --package-path Fuzz -Xswiftc -sanitize=fuzzer,address
//
// Each target is an executable whose main.swift defines LLVMFuzzerTestOneInput and hands it to libFuzzer's driver
// (FuzzSupport/LibFuzzer.swift says why it is not libFuzzer's own main, and why no -parse-as-library).

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

// The root package is named explicitly: a path dependency's identity is otherwise its folder's name, which differs
// between checkouts (main, a worktree, CI's clone).
let snna = "snna"

func target(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: snna) },
                      swiftSettings: swift6)
}

let package = Package(
    name: "snna-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: snna, path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], swiftSettings: swift6),
        target("FuzzContainer", ["SNNAMedia"]),
        target("FuzzSafeTensors", ["SNNAModel"]),
        target("FuzzZip", ["SNNAModelImport"]),
        target("FuzzPickle", ["SNNAModelImport"]),
        target("FuzzTorch", ["SNNAModelImport"]),
        target("FuzzOnnx", ["SNNAModelImport"]),
        target("FuzzConfig", ["SNNAService"]),
        target("FuzzLabels", ["SNNAEvaluation"]),
    ]
)
