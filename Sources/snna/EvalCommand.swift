import ArgumentParser
import Foundation
import SNNAAttribution
import SNNAEvaluation
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAPipeline

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure how faithful the explanations are (AUPC, LogOdd) and whether they land on the decisive regions.",
        discussion: """
        Perturbation tests of reference §5 (pixel, token and attention masks), AUPC and LogOdd as decided in §9.6, and \
        localisation against ground-truth region masks when they exist. Writes report.md, report.json and one SVG \
        chart per mask kind (docs/evaluation.md).
        """)

    @Option(help: "Model file.") var model: String
    @Option(help: "Folder of pictures to evaluate.") var images: String?
    @Option(help: "Video whose frames are evaluated.") var video: String?
    @Option(help: "Labels (JSON object name → 0/1 list, or CSV, as for `head fit`); frames of a video are named 000000.png, 000001.png, …. Without it the clean prediction is the reference.")
    var labels: String?
    @Option(help: "Folder of ground-truth region masks <name without extension>-<label>.png (default: masks/ beside the labels file, when present).")
    var regions: String?
    @Option(help: "Methods, comma-separated (default: every method and the random baseline).") var methods: String?
    @Option(help: "Mask kinds, comma-separated: pixel, token, attention.") var masks: String = "pixel,token,attention"
    @Option(help: "Removed fractions in percent, comma-separated (default: 9 levels of numpy.linspace(0, 20 %, 10); 10 % for tokens under reference-quirks).")
    var levels: String?
    @Option(name: .customLong("protocol"), help: "paper or reference-quirks.") var evaluationProtocol: String = "paper"
    @Option(help: "Evaluate this many pictures or frames, drawn with the seed (default: all).") var samples: Int?
    @Option(help: "Seed of the sampling, the noise of SNNA and SmoothGrad, and the random baseline.") var seed: UInt64 = 0
    @Option(help: "Noise samples for SNNA and SmoothGrad (default: their own, 3 and 25).") var noiseSamples: Int?
    @Option(help: "Percent of the pixels the localisation IoU takes from the top of each map.") var iouTop: Double = 10
    @Option(help: "Perturbed inputs per batched forward.") var batch: Int = 8
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Flag(help: "No progress output.") var quiet = false
    @Option(help: "Output folder.") var out: String

    func run() throws {
        try reportingErrors {
            guard (images == nil) != (video == nil) else { throw CLIError("give exactly one of --images and --video") }
            guard let evaluationProtocol = EvaluationProtocol(rawValue: evaluationProtocol) else {
                throw CLIError("--protocol must be paper or reference-quirks, not '\(self.evaluationProtocol)'")
            }
            let kinds = try masks.split(separator: ",").map { name -> MaskKind in
                guard let k = MaskKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw CLIError("--masks: '\(name)' is not pixel, token or attention")
                }
                return k
            }
            guard !kinds.isEmpty, Set(kinds).count == kinds.count else { throw CLIError("--masks needs distinct kinds") }
            var levelFractions: [Double]?
            if let levels {
                levelFractions = try levels.split(separator: ",").map { text -> Double in
                    guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v > 0, v <= 100 else {
                        throw CLIError("--levels: '\(text)' is not a percentage in (0, 100]")
                    }
                    return v / 100
                }
                guard levelFractions == levelFractions!.sorted(), Set(levelFractions!).count == levelFractions!.count else {
                    throw CLIError("--levels must increase")
                }
            }
            let methodNames = try (methods?.split(separator: ",").map(String.init)
                ?? ExplanationMethod.allCases.map(\.rawValue) + ["random"]).map { name -> String in
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                if trimmed == "random" { return trimmed }
                guard let m = ExplanationMethod(name: trimmed) else {
                    throw CLIError("--methods: unknown method '\(trimmed)' (\(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", ")), random)")
                }
                return m.rawValue
            }
            guard !methodNames.isEmpty, Set(methodNames).count == methodNames.count else { throw CLIError("--methods needs distinct methods") }
            if let samples, samples < 1 { throw CLIError("--samples must be at least 1") }
            if let noiseSamples, noiseSamples < 1 { throw CLIError("--noise-samples must be at least 1") }
            guard iouTop > 0, iouTop <= 100 else { throw CLIError("--iou-top must be a percentage in (0, 100]") }
            guard batch >= 1 else { throw CLIError("--batch must be at least 1") }
            if let threads {
                guard threads >= 1 else { throw CLIError("--threads must be at least 1") }
                Parallel.configure(threads: threads)
            }
            try checkFolderLocation(out, option: "--out")
            // The report folder is replaced as a whole: never a folder that holds something else.
            if let existing = try? FileManager.default.contentsOfDirectory(atPath: out), !existing.isEmpty,
               !existing.contains("report.json") {
                throw CLIError("--out '\(out)' is a folder that does not hold an earlier report; give a new or an empty one")
            }

            let vit = try ModelFile.load(path: model)
            let engine = try ViTEngine(model: vit)
            let labelNames = vit.config.labels
            let table = try labels.map { try LabelsFile.read($0, labels: labelNames) }
            let regionFolder = regions ?? labels.flatMap { path -> String? in
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("masks").path
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) && isDirectory.boolValue ? folder : nil
            }
            if let regions {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: regions, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw CLIError("--regions '\(regions)' is not a folder")
                }
            }

            let settings = EvaluationSettings(evaluationProtocol: evaluationProtocol, masks: kinds, levels: levelFractions,
                                              iouTopFraction: iouTop / 100, batch: batch)
            let evaluation = Evaluation(engine: engine, settings: settings, methods: methodNames, labels: labelNames)
            let explainer = Explainer(engine: engine)
            let explained = methodNames.compactMap { ExplanationMethod(rawValue: $0) }
            let source = try EvalSource(images: images, video: video, table: table, sampleCount: samples, seed: seed)
            let progress = ProgressReporter(name: "eval", expectedFrames: source.count, quiet: quiet, unit: "samples")
            let started = Date()
            var index = 0
            try source.forEach { name, picture in
                let prepared = try ModelInput(picture, engine: engine, name: "'\(name)'")
                let bilinear = kinds.contains(where: { settings.usesBilinearResize($0) })
                    ? try ModelInput(picture, engine: engine, filter: .bilinear, name: "'\(name)'").tensor : nil
                var sampleRegions: [Int: [Bool]] = [:]
                if let regionFolder {
                    sampleRegions = try RegionMasks.load(folder: regionFolder, name: name, labels: labelNames, picture: picture,
                                                         shortSide: vit.config.inputShortSide, input: prepared.tensor)
                }
                let sample = EvaluationSample(name: name, input: prepared.tensor, bilinearInput: bilinear,
                                              labels: table.map { $0[source.key(name, in: $0)]! }, regions: sampleRegions)
                let sampleSeed = seed &+ UInt64(index) &* 1_000_003
                try evaluation.add(sample) { input, target in
                    var maps: [String: [Float]] = [:]
                    if !explained.isEmpty {
                        let result = try explainer.explain(input, methods: explained, options: ExplanationOptions(
                            target: target, samples: noiseSamples, seed: sampleSeed))
                        for (method, values) in result.maps { maps[method.rawValue] = values }
                    }
                    if methodNames.contains("random") {
                        var rng = SeededRandom(seed: sampleSeed ^ 0x5EED_0F_0A11_D0E5)
                        let p = engine.config.patchSize
                        maps["random"] = (0..<((input.height / p) * (input.width / p))).map { _ in Float(rng.uniformOpen()) }
                    }
                    return maps
                }
                index += 1
                progress.update(frames: index)
            }
            progress.finish(frames: index)
            let elapsed = Date().timeIntervalSince(started)
            let results = evaluation.results()
            var context = [
                "model: `\(vit.config.name ?? "unnamed")` (\(model)), input short side \(vit.config.inputShortSide)",
                images.map { "pictures: `\($0)`" } ?? "video: `\(video!)`",
                "labels: " + (labels.map { "`\($0)`" } ?? "none (accuracy against the clean prediction)")
                    + (regionFolder.map { "; regions: `\($0)`" } ?? "; no region masks"),
                "\(index) samples of \(source.available) (seed \(seed); SNNA/SmoothGrad noise seeds = seed + 1000003·sample)",
                "noise samples: " + (noiseSamples.map(String.init) ?? "method defaults (SNNA 3, SmoothGrad 25)"),
                String(format: "%.0f s, %d clean and perturbed forward passes (explanations not counted), %d threads",
                       elapsed, evaluation.forwardCount, Parallel.threads),
            ]
            if results.accuracyReference != "labels" { context.append("accuracy reference: \(results.accuracyReference)") }
            // Everything goes to a hidden folder beside --out that replaces it in one step: no mix of old and new
            // files, nothing half-written.
            let target = URL(fileURLWithPath: out).standardizedFileURL
            let folder: OutputFolder
            do {
                folder = try OutputFolder(root: target.deletingLastPathComponent().path, name: target.lastPathComponent)
            } catch let e as PipelineError { throw CLIError(e.message) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            var json = try JSONSerialization.jsonObject(with: encoder.encode(results)) as! [String: Any]
            json["model"] = ["file": model, "name": (vit.config.name as Any?) ?? NSNull(), "labels": labelNames]
            json["input"] = images.map { ["images": $0] } ?? ["video": video!]
            json["labels_file"] = labels ?? NSNull()
            json["regions_folder"] = regionFolder ?? NSNull()
            json["seed"] = seed
            json["noise_samples"] = noiseSamples ?? NSNull()
            json["seconds"] = elapsed
            json["forward_passes"] = evaluation.forwardCount
            try writeOutput(JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]),
                            to: folder.path("report.json"), option: "--out")
            for kind in kinds {
                if let svg = EvaluationReport.svg(results, kind: kind.rawValue) {
                    let svgPath = folder.path("curves-\(kind.rawValue).svg")
                    try writeOutput(Data(svg.utf8), to: svgPath, option: "--out")
                    // A PNG beside it when this FFmpeg can rasterise SVG (librsvg, as Debian's): cheap, optional.
                    if let picture = try? ImageDecoder.decode(path: svgPath) {
                        try PNGWriter.write(picture, to: folder.path("curves-\(kind.rawValue).png"))
                    }
                }
            }
            let markdown = EvaluationReport.markdown(results, title: "snna eval report", context: context)
            try writeOutput(Data(markdown.utf8), to: folder.path("report.md"), option: "--out")
            do { try folder.commit() } catch let e as PipelineError { throw CLIError(e.message) }
            if !quiet { print(markdown) }
            let charts = kinds.flatMap { k in ["svg", "png"].map { "curves-\(k.rawValue).\($0)" } }
                .filter { FileManager.default.fileExists(atPath: out + "/" + $0) }
            print("wrote \(out)/report.md, report.json, " + charts.joined(separator: ", "))
        }
    }
}
