import ArgumentParser
import Foundation
import SNNAAttribution
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAPipeline

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Predict every frame of dashcam videos, explain some, and write action logs and overlay videos.",
        discussion: """
        For each input, writes <out>/<name>/ with actions.jsonl (one line per predicted frame, flushed as it \
        completes), overlay.mp4, summary.json and, with --heatmaps, heatmaps/. While a run is in progress its \
        folder is <out>/.<name>.partial-<pid> (follow it with tail -F); it replaces <out>/<name> atomically at \
        the end. Schemas: docs/process.md.
        """)

    @Option(help: "Model file (snna-vit/1 safetensors).")
    var model: String

    @Argument(help: "Video files: MP4/MOV/3GP, Matroska/WebM, MPEG-TS/M2TS or AVI, any codec FFmpeg decodes.")
    var inputs: [String]

    @Option(help: "Output root folder.")
    var out: String = "./snna-out"

    @Option(help: "Predict every K-th frame.")
    var predictStride: Int = 1

    @Option(help: "Explain every K-th predicted frame (0: none).")
    var explainStride: Int = 30

    @Option(help: "Explanation method (see snna explain --help).")
    var method: String = "snna"

    @Option(help: "Explain the argmax action or every active action.")
    var explainTarget: String = "argmax"

    @Option(help: "Noise samples for snna/smoothgrad (default: the method's).")
    var samples: Int?

    @Option(help: "Base seed: frame f is explained with seed + f (default: random, recorded).")
    var seed: UInt64?

    @Option(help: "An action is active when its probability is at least this.")
    var threshold: Float = 0.5

    @Option(help: "Short side frames are resized to (default: the model's input_short_side).")
    var size: Int?

    @Option(help: "Frames predicted together.")
    var batch: Int = 4

    @Option(help: "Refuse frames larger than this many pixels (width × height) before decoding them.")
    var maxFramePixels: Int = ProcessSettings().maxFramePixels

    @Flag(help: "Do not write overlay.mp4.")
    var noVideo = false

    @Flag(help: "Write a heat-map PNG per explained frame.")
    var heatmaps = false

    @Flag(help: "No progress output.")
    var quiet = false

    @Option(help: "Worker threads (default: every core).")
    var threads: Int?

    /// Output folder names: each input's file stem; stems that repeat in one run (dashcams reuse FILE0001.MP4 in
    /// every folder) get -2, -3, … in input order, so no input overwrites another.
    static func outputNames(_ inputs: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return inputs.map { input in
            let stem = VideoProcessor.outputName(for: input)
            let n = (seen[stem] ?? 0) + 1
            seen[stem] = n
            return n == 1 ? stem : "\(stem)-\(n)"
        }
    }

    func run() throws {
        var settings = ProcessSettings()
        var engine: ViTEngine?
        try reportingErrors {
            guard let m = ExplanationMethod(name: method) else { throw CLIError("unknown method '\(method)'") }
            guard let target = ExplainTarget(rawValue: explainTarget) else {
                throw CLIError("--explain-target must be argmax or active")
            }
            if let threads {
                guard threads >= 1 else { throw CLIError("--threads must be at least 1") }
                Parallel.configure(threads: threads)
            }
            settings.predictStride = predictStride
            settings.explainStride = explainStride
            settings.method = m
            settings.explainTarget = target
            settings.samples = samples
            settings.seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
            settings.threshold = threshold
            settings.shortSide = size
            settings.batch = batch
            settings.maxFramePixels = maxFramePixels
            settings.writeVideo = !noVideo
            settings.writeHeatmaps = heatmaps
            try settings.validate()
            engine = try ViTEngine(model: try ModelFile.load(path: model))
        }
        guard let engine else { return }
        let processor = try VideoProcessor(engine: engine, settings: settings, quiet: quiet)
        processor.warn = { FileHandle.standardError.write(Data("snna: warning: \($0)\n".utf8)) }
        var failures: [String] = []
        for (input, name) in zip(inputs, ProcessCommand.outputNames(inputs)) {
            do {
                let result = try processor.process(input: input, outputRoot: out, outputName: name)
                if !quiet {
                    let s = result.summary
                    print("\(input): \(s.counts.decoded) frames (\(s.counts.predicted) predicted, \(s.counts.explained) explained)"
                          + "\(s.input.truncated ? ", truncated" : "") in \(String(format: "%.1f", s.speed.wall_seconds)) s"
                          + " → \(result.outputFolder)")
                }
            } catch {
                let message = "\(error)"
                failures.append(input)
                FileHandle.standardError.write(Data("snna: error: \(message)\n".utf8))
            }
        }
        if !failures.isEmpty {
            if inputs.count > 1 {
                FileHandle.standardError.write(Data("snna: error: \(failures.count) of \(inputs.count) inputs failed: \(failures.joined(separator: ", "))\n".utf8))
            }
            throw ExitCode(1)
        }
    }
}
