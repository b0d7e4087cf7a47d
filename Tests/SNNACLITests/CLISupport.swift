import Foundation
import SNNAMedia
import Testing

/// What one run of the `snna` executable produced.
struct CLIRun: CustomStringConvertible {
    let arguments: [String]
    let status: Int32
    let stdout: Data
    let stderr: Data

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    /// The non-empty lines of stderr.
    var errLines: [String] { err.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    var description: String {
        "snna \(arguments.joined(separator: " ")) → exit \(status)\n--- stdout ---\n\(out.prefix(2000))\n--- stderr ---\n\(err.prefix(2000))"
    }
}

enum CLITestError: Error, CustomStringConvertible {
    case binaryNotFound(tried: [String])
    case timedOut(arguments: [String], seconds: Double)
    case badJSON(String)
    case failed(String)

    var description: String {
        switch self {
        case .binaryNotFound(let tried):
            return "cannot find the snna executable; build it (swift build) or set SNNA_BINARY. Tried:\n  "
                + tried.joined(separator: "\n  ")
        case .timedOut(let arguments, let seconds):
            return "snna \(arguments.joined(separator: " ")) did not finish within \(seconds) s (killed)"
        case .badJSON(let why):
            return "output is not the expected JSON: \(why)"
        case .failed(let why):
            return why
        }
    }
}

enum SNNA {
    /// The real executable: $SNNA_BINARY, else `snna` next to the test bundle, else <package root>/.build/debug/snna.
    static func binary() throws -> String {
        var tried: [String] = []
        let fm = FileManager.default
        func usable(_ path: String) -> Bool {
            tried.append(path)
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue && fm.isExecutableFile(atPath: path)
        }
        if let env = ProcessInfo.processInfo.environment["SNNA_BINARY"], !env.isEmpty {
            guard usable(env) else {
                throw CLITestError.binaryNotFound(tried: tried.map { "\($0) (from SNNA_BINARY)" })
            }
            return env
        }
        var folders: [URL] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let url = URL(fileURLWithPath: exe)
            folders.append(url.deletingLastPathComponent())
            // A bundle directory (macOS-style) may hold the executable deeper inside; walk up to the .xctest.
            var up = url.deletingLastPathComponent()
            for _ in 0..<4 where up.path != "/" {
                if up.pathExtension == "xctest" { folders.append(up.deletingLastPathComponent()) }
                up = up.deletingLastPathComponent()
            }
        }
        if let arg0 = CommandLine.arguments.first, !arg0.isEmpty {
            let url = URL(fileURLWithPath: arg0).standardizedFileURL
            folders.append(url.deletingLastPathComponent())
        }
        let bundle = URL(fileURLWithPath: Bundle.main.bundlePath)
        folders.append(bundle)
        folders.append(bundle.deletingLastPathComponent())
        for folder in folders {
            let candidate = folder.appendingPathComponent("snna").path
            if usable(candidate) { return candidate }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/debug/snna").path
        if usable(fallback) { return fallback }
        throw CLITestError.binaryNotFound(tried: tried)
    }

    /// Runs `snna` with `arguments` (see `runProcess`).
    @discardableResult
    static func run(_ arguments: [String], in folder: String, timeout: Double = 300) throws -> CLIRun {
        try runProcess(try binary(), arguments, in: folder, timeout: timeout)
    }
}

/// Runs an executable with stdout and stderr captured through files (no pipe can fill up and deadlock), killing it
/// after `timeout` seconds.
func runProcess(_ executable: String, _ arguments: [String], in folder: String, timeout: Double) throws -> CLIRun {
    let tag = UUID().uuidString
    let outPath = "\(folder)/.stdout-\(tag)", errPath = "\(folder)/.stderr-\(tag)"
    let fm = FileManager.default
    fm.createFile(atPath: outPath, contents: nil)
    fm.createFile(atPath: errPath, contents: nil)
    defer {
        try? fm.removeItem(atPath: outPath)
        try? fm.removeItem(atPath: errPath)
    }
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = outHandle
    process.standardError = errHandle
    try process.run()
    let start = Date()
    var killed = false
    while process.isRunning {
        if Date().timeIntervalSince(start) > timeout {
            process.terminate()
            killed = true
            break
        }
        usleep(5_000)
    }
    process.waitUntilExit()
    try? outHandle.close()
    try? errHandle.close()
    if killed { throw CLITestError.timedOut(arguments: arguments, seconds: timeout) }
    let stdout = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
    let stderr = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
    return CLIRun(arguments: arguments, status: process.terminationStatus, stdout: stdout, stderr: stderr)
}

/// A fresh folder per test, removed afterwards, so tests run in parallel without sharing files.
func withTemporaryFolder<T>(_ body: (String) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("snna-cli-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// Full path of an executable on PATH, or nil.
func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

enum Fixtures {
    static let labels = ["go", "stop", "left", "right"]

    /// The tiny model every explain test uses: patch 4, D 16, 3 blocks, 2 heads, 4 classes, grid 4, short side 32.
    static let tinyModelArguments = ["--patch", "4", "--dim", "16", "--depth", "3", "--heads", "2", "--classes", "4",
                                     "--grid", "4", "--input-short-side", "32"]

    /// Writes the tiny model with `snna model random` and returns its path.
    @discardableResult
    static func tinyModel(in folder: String, seed: Int = 3, name: String = "tiny.safetensors",
                          extra: [String] = []) throws -> String {
        let path = "\(folder)/\(name)"
        let run = try SNNA.run(["model", "random"] + tinyModelArguments
                               + ["--labels", labels.joined(separator: ","), "--seed", String(seed)] + extra
                               + ["-o", path], in: folder)
        guard run.status == 0, fileExists(path) else {
            throw CLITestError.failed("model random failed: \(run)")
        }
        return path
    }

    /// A width×height PNG with a smooth two-way gradient and a bright square, so attribution maps are not flat.
    @discardableResult
    static func gradientPNG(in folder: String, width: Int = 64, height: Int = 36, name: String = "frame.png") throws
        -> String {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let square = (x >= width / 3 && x < width / 2 && y >= height / 4 && y < height / 2)
                image.pixels[i] = square ? 250 : UInt8((x * 255) / max(1, width - 1))
                image.pixels[i + 1] = square ? 240 : UInt8((y * 255) / max(1, height - 1))
                image.pixels[i + 2] = UInt8(((x + y) * 7) % 256)
            }
        }
        let path = "\(folder)/\(name)"
        try PNGWriter.write(image, to: path)
        return path
    }
}

/// A parsed `snna explain --json` document.
struct ExplainDoc {
    let root: [String: Any]

    init(data: Data) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CLITestError.badJSON("\(error): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        guard let root = object as? [String: Any] else { throw CLITestError.badJSON("top level is not an object") }
        self.root = root
    }

    init(path: String) throws { try self.init(data: try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// A list of finite numbers, or nil if any element is not a number (e.g. "nan" strings).
    static func numbers(_ value: Any?) -> [Double]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Double] = []
        for element in list {
            // (No `is Bool` check: on Linux an NSNumber 0 or 1 from JSONSerialization also casts to Bool.)
            guard !(element is String), let n = element as? NSNumber else { return nil }
            out.append(n.doubleValue)
        }
        return out
    }

    static func ints(_ value: Any?) -> [Int]? { numbers(value)?.map { Int($0) } }

    var logits: [Double] { Self.numbers(root["logits"]) ?? [] }
    var probabilities: [Double] { Self.numbers(root["probabilities"]) ?? [] }
    var methods: [String: Any] { root["methods"] as? [String: Any] ?? [:] }
    var target: Int? { (root["target"] as? NSNumber)?.intValue }
    var targetLabel: String? { root["target_label"] as? String }
    var seed: UInt64? { (root["seed"] as? NSNumber)?.uint64Value }
    var grid: [Int]? { Self.ints(root["grid"]) }
    var inputSize: [Int]? { Self.ints(root["input_size"]) }
    var options: [String: Any] { root["options"] as? [String: Any] ?? [:] }

    func map(_ method: String) -> [Double]? { Self.numbers(methods[method]) }
}

/// Runs `snna explain` on the fixture and parses the JSON it wrote; records the run if it failed.
func explainJSON(model: String, image: String, in folder: String, _ extra: [String]) throws -> ExplainDoc {
    let json = "\(folder)/explain-\(UUID().uuidString).json"
    let run = try SNNA.run(["explain", "--model", model, "--image", image, "--json", json] + extra, in: folder)
    #expect(run.status == 0, "\(run)")
    #expect(run.err.isEmpty, "unexpected stderr: \(run)")
    guard run.status == 0 else { throw CLITestError.failed("explain failed: \(run)") }
    return try ExplainDoc(path: json)
}

let allMethods = ["rawatt", "rollout", "gradient", "attgrad", "genericatt", "normatt", "attig", "smoothgrad", "snna"]
