import ArgumentParser
import Foundation
import SNNAAttribution
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAPipeline

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Predict the actions of one image and explain them with one or more attribution methods.",
        discussion: """
        Methods: \(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", ")), or 'all'.
        The image is resized so its short side is the model's input_short_side (Pillow-compatible bicubic),
        cropped from the top left to a multiple of the patch, and normalized with the model's mean and std.
        """)

    @Option(name: .long, help: "Model file (snna-vit/1 safetensors).")
    var model: String

    @Option(name: .long, help: "Image to explain (PNG, JPEG, or any still image FFmpeg decodes).")
    var image: String

    @Option(name: .long, parsing: .singleValue, help: "Method name or 'all'; repeat or separate with commas (default: snna).")
    var method: [String] = []

    @Option(name: .customLong("class"), help: "Class to explain: index or label (default: the argmax logit).")
    var targetClass: String?

    @Option(name: .long, help: "Noise samples for snna (default 3) and smoothgrad (default 25).")
    var samples: Int?

    @Option(name: .long, help: "α steps for attig.")
    var steps: Int = 20

    @Option(name: .long, help: "Noise σ as a fraction of (max − min) of the normalized input; 0 disables the noise.")
    var sigmaFraction: Float = 0.15

    @Option(name: .long, help: "Seed of the noise generator (default: a random seed, recorded in the output).")
    var seed: UInt64?

    @Option(name: .long, help: "Value-norm indexing: row (the authors' code) or column (the paper).")
    var valueNorm: String = "row"

    @Option(name: .long, help: "Write the result as JSON to this file ('-' for stdout).")
    var json: String?

    @Option(name: .long, help: "Write <method>.png (heat map over the image) and <method>_heatmap.png here.")
    var png: String?

    @Option(name: .long, help: "Worker threads (default: every core; OpenBLAS runs single-threaded inside them).")
    var threads: Int?

    func run() throws {
        try reportingErrors {
            let methods = try parseMethods()
            guard let norm = ValueNormIndexing(rawValue: valueNorm) else {
                throw CLIError("unknown --value-norm '\(valueNorm)' (use row or column)")
            }
            if let samples, samples < 1 { throw CLIError("--samples must be at least 1") }
            if let threads, threads < 1 { throw CLIError("--threads must be at least 1") }
            // Fail on unwritable outputs before minutes of compute, and write nothing until all is computed.
            if let json { try checkOutputFile(json, option: "--json") }
            if let png { try checkFolderLocation(png, option: "--png") }
            if let threads { Parallel.configure(threads: threads) }
            if steps < 1 { throw CLIError("--steps must be at least 1") }
            let vit = try ModelFile.load(path: model)
            let target = try parseClass(vit.config)
            let engine = try ViTEngine(model: vit)
            let prepared = try ModelInput(try ImageDecoder.decode(path: image), engine: engine, name: "image '\(image)'")
            let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
            let options = ExplanationOptions(target: target, samples: samples, steps: steps, sigmaFraction: sigmaFraction,
                                             seed: seed, valueNorm: norm)
            let explainer = Explainer(engine: engine)
            let result = try explainer.explain(prepared.tensor, methods: methods, options: options)
            if let png { try writePNGs(result, photo: prepared.photo, patch: vit.config.patchSize, to: png) }
            if let json {
                try writeOutput(try ExplanationJSON.encode(result, model: vit.config, image: image, options: options),
                                to: json, option: "--json")
            }
            if json != "-" { printSummary(result, config: vit.config) }
        }
    }

    func parseMethods() throws -> [ExplanationMethod] {
        let names = method.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if method.isEmpty { return [.snna] }
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else { throw CLIError("--method needs a method name") }
        var out: [ExplanationMethod] = []
        for name in names {
            if name.lowercased() == "all" {
                out.append(contentsOf: ExplanationMethod.allCases)
            } else if let m = ExplanationMethod(name: name) {
                out.append(m)
            } else {
                throw CLIError("unknown method '\(name)' (known: \(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", ")), all)")
            }
        }
        var seen = Set<ExplanationMethod>()
        return out.filter { seen.insert($0).inserted }
    }

    func parseClass(_ config: ViTConfig) throws -> Int? {
        guard let targetClass else { return nil }
        if let i = Int(targetClass) {
            guard (0..<config.numClasses).contains(i) else {
                throw CLIError("class \(i) is out of range 0…\(config.numClasses - 1)")
            }
            return i
        }
        guard let i = config.labels.firstIndex(of: targetClass) else {
            throw CLIError("unknown class '\(targetClass)' (labels: \(config.labels.joined(separator: ", ")))")
        }
        return i
    }

    func writePNGs(_ result: ExplanationResult, photo: RGBImage, patch: Int, to dir: String) throws {
        try createFolder(dir, option: "--png")
        for (method, values) in result.maps {
            let (overlay, bare) = Heatmap.render(map: values, rows: result.gridRows, cols: result.gridCols,
                                                 patchSize: patch, photo: photo)
            try PNGWriter.write(overlay, to: "\(dir)/\(method.rawValue).png")
            try PNGWriter.write(bare, to: "\(dir)/\(method.rawValue)_heatmap.png")
        }
    }

    func printSummary(_ result: ExplanationResult, config: ViTConfig) {
        var lines = ["input \(result.inputWidth)×\(result.inputHeight), grid \(result.gridCols)×\(result.gridRows), seed \(result.seed)"]
        let width = max(12, config.labels.map(\.count).max() ?? 0)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        for (i, label) in config.labels.enumerated() {
            let mark = i == result.target ? "  ← explained" : ""
            lines.append("  \(pad(label))  logit \(String(format: "%9.4f", result.logits[i]))  p \(String(format: "%.4f", result.probabilities[i]))\(mark)")
        }
        for (method, values) in result.maps {
            let lo = values.min() ?? 0, hi = values.max() ?? 0
            lines.append("  \(pad(method.rawValue))  min \(String(format: "%.4g", lo))  max \(String(format: "%.4g", hi))")
        }
        print(lines.joined(separator: "\n"))
    }
}
