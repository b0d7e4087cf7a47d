import ArgumentParser
import Foundation
import SNNAAttribution
import SNNAKernels
import SNNAModel

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm, forward and every explanation method on this machine, against the sgemm limit.",
        discussion: """
        Phases: the machine's sgemm throughput on the model's own shapes (the limit), forward at batch 1 and at \
        --batch, each method, and prediction throughput at short side 224 and 360 (which also shows whether the \
        resident set grows over many frames). Each phase reports the median, min and max of --repeat runs, its \
        analytic FLOP count, the achieved fraction of the sgemm limit, and its peak resident memory (VmHWM).
        """)

    @Option(help: "Model file; without it a random model of --random's shape is used.")
    var model: String?

    @Option(help: "Random model shape when no --model is given (vits8, vits14, tiny).")
    var random: String = "vits8"

    @Option(help: "Input size HxW (after resize and crop).")
    var size: String = "360x640"

    @Option(help: "Batch size for the batched forward and the throughput phases.")
    var batch: Int = 4

    @Option(help: "Worker threads (default: every core; OpenBLAS runs single-threaded inside them).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Repeats per phase (median, min and max are reported).")
    var `repeat`: Int = 3

    @Option(parsing: .singleValue, help: "Methods to time, comma-separated, or 'all' (default: snna,genericatt,normatt,rawatt).")
    var methods: [String] = []

    @Option(help: "Frames per throughput phase.")
    var throughputFrames: Int = 100

    @Option(help: "Query rows per attention tile (a tuning knob; results are the same up to float rounding).")
    var attentionTileRows: Int = 256

    @Option(help: "Instead of the engine phases, run the whole video pipeline on this clip (predict every frame, explain every 30th, overlay and encode) and report frames/s and each stage's share.")
    var pipeline: String?

    @Flag(help: "Skip the throughput phases.")
    var skipThroughput = false

    @Option(help: "Write the figures as one JSON object to this file ('-' for stdout).")
    var json: String?

    func run() throws {
        try reportingErrors {
            guard batch >= 1, `repeat` >= 1, threads >= 1, throughputFrames >= 1, attentionTileRows >= 1 else {
                throw CLIError("--batch, --repeat, --threads and --throughput-frames must be at least 1")
            }
            if let json { try checkOutputFile(json, option: "--json") }
            let (height, width) = try parseSize(size)
            let methodList = try parseMethodList()
            Parallel.configure(threads: threads)
            let vit = try loadModel()
            if let pipeline {
                let report = try PipelineBench(engine: try ViTEngine(model: vit, attentionTileRows: attentionTileRows),
                                               clip: pipeline, threads: threads,
                                               log: json == "-" ? { _ in } : { print($0) }).run()
                if let json { try writeOutput(try report.encoded(), to: json, option: "--json") }
                return
            }
            let engine = try ViTEngine(model: vit, attentionTileRows: attentionTileRows)
            try engine.checkGrid(height: height, width: width)
            let runner = BenchRunner(engine: engine, height: height, width: width, batch: batch, repeats: `repeat`,
                                     log: json == "-" ? { _ in } : { print($0) })
            let report = try runner.run(methods: methodList, throughputFrames: skipThroughput ? 0 : throughputFrames,
                                        threads: threads)
            if let json {
                try writeOutput(try report.encoded(), to: json, option: "--json")
            }
        }
    }

    func parseSize(_ text: String) throws -> (Int, Int) {
        let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw CLIError("--size must look like 360x640") }
        return (parts[0], parts[1])
    }

    func parseMethodList() throws -> [ExplanationMethod] {
        let names = methods.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if names.isEmpty { return [.snna, .genericatt, .normatt, .rawatt] }
        if names.contains(where: { $0.lowercased() == "all" }) { return ExplanationMethod.allCases }
        return try names.map { name in
            guard let m = ExplanationMethod(name: name) else { throw CLIError("unknown method '\(name)'") }
            return m
        }
    }

    func loadModel() throws -> ViTModel {
        if let model { return try ModelFile.load(path: model) }
        switch random {
        case "vits8": return RandomModel.make(patchSize: 8, dim: 384, depth: 12, numHeads: 6, numClasses: 4, seed: 0)
        case "vits14": return RandomModel.make(patchSize: 14, dim: 384, depth: 12, numHeads: 6, numClasses: 4,
                                               gridSize: 37, layerScale: true, positionalInterpolation: .dino, seed: 0)
        case "tiny": return RandomModel.make(patchSize: 8, dim: 64, depth: 4, numHeads: 2, numClasses: 4, seed: 0)
        default: throw CLIError("--random must be vits8, vits14 or tiny")
        }
    }
}
