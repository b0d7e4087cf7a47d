import ArgumentParser
import Foundation
import SNNAEvaluation
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAModelImport
import SNNAPipeline

struct HeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head", abstract: "Fit a model's multi-label head.", subcommands: [Fit.self, Score.self])

    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fit the linear head on frozen backbone features (the paper's second stage, docs/head-fit.md).",
            discussion: "Labels: a JSON object (file name → 0/1 list, BDD-OIA style) or a CSV (file,label,… rows; an optional header names the labels).")

        @Option(help: "Model whose backbone is used (its head is replaced).") var model: String
        @Option(help: "Folder of training images.") var images: String
        @Option(help: "Labels file (JSON or CSV).") var labels: String
        @Option(help: "Epochs.") var epochs: Int = 100
        @Option(help: "Base learning rate (effective lr = base · batch / 256).") var lr: Float = 1e-3
        @Option(help: "Batch size.") var batch: Int = 64
        @Option(help: "Fraction of the images held out for validation.") var valFraction: Double = 0.2
        @Option(help: "Seed of the split, the initialisation and the shuffling.") var seed: UInt64 = 0
        @Option(help: "L2 weight decay on the head's weights (the paper: 0).") var weightDecay: Float = 0
        @Flag(help: "Fit on standardized features and fold the scaling into the head (a preconditioner; the paper: off).")
        var standardize = false
        @Flag(help: "Do not add horizontally flipped pictures (which swap turn_left and turn_right).") var noFlip = false
        @Option(help: "Cache file of backbone features: computed once, reused by later fits with the same backbone.")
        var featureCache: String?
        @Option(help: "Also write the fitted head alone (head.weight, head.bias) to this safetensors file.") var saveHead: String?
        @Option(name: [.short, .long], help: "Output model file.") var output: String

        func run() throws {
            try reportingErrors {
                guard epochs >= 1, batch >= 1, lr > 0, weightDecay >= 0, (0..<1).contains(valFraction) else {
                    throw CLIError("--epochs and --batch must be at least 1, --lr positive, --weight-decay ≥ 0, --val-fraction in [0, 1)")
                }
                try checkOutputFile(output, option: "-o")
                if let saveHead { try checkOutputFile(saveHead, option: "--save-head") }
                if let featureCache { try checkOutputFile(featureCache, option: "--feature-cache") }
                let vit = try ModelFile.load(path: model)
                let engine = try ViTEngine(model: vit)
                let c = vit.config
                let table = try LabelsFile.read(labels, labels: c.labels, pictures: images)
                var names = table.keys.sorted()
                guard names.count >= 2 else { throw CLIError("need at least 2 labelled images, found \(names.count)") }
                var rng = SeededRandom(seed: seed)
                names.shuffle(using: &rng)
                let valCount = valFraction > 0 ? min(names.count - 1, max(1, Int((Double(names.count) * valFraction).rounded()))) : 0
                let valNames = Array(names.prefix(valCount)), trainNames = Array(names.dropFirst(valCount))
                let swap = (c.labels.firstIndex(of: "turn_left"), c.labels.firstIndex(of: "turn_right"))
                var features = try HeadFeatures(engine: engine, model: vit, folder: images, cachePath: featureCache)
                let trainX = try features.rows(trainNames, flip: false, what: "training pictures")
                let trainY = trainNames.map { table[$0]! }
                var flippedX: [[Float]]?, flippedY: [[Float]]?
                if !noFlip {
                    flippedX = try features.rows(trainNames, flip: true, what: "mirrored training pictures")
                    flippedY = trainY.map { y in
                        var s = y
                        if let l = swap.0, let r = swap.1 { s.swapAt(l, r) }
                        return s
                    }
                }
                let valX = try features.rows(valNames, flip: false, what: "validation pictures")
                try features.save()
                var options = HeadFitter.Options()
                options.epochs = epochs
                options.baseLearningRate = lr
                options.batch = batch
                options.weightDecay = weightDecay
                options.standardize = standardize
                options.seed = seed
                let result = HeadFitter.fit(features: trainX, labels: trainY, flipped: flippedX, flippedLabels: flippedY,
                                            options: options)
                let trainZ = HeadFitter.logits(trainX, weight: result.weight, bias: result.bias)
                print(String(format: "train: %d images, loss %.4f → %.4f", trainNames.count,
                             result.lossPerEpoch.first ?? 0, result.lossPerEpoch.last ?? 0))
                print(HeadReport.accuracyLines(logits: trainZ, labels: trainY, names: c.labels, indent: "  "))
                var valNote = "no validation split"
                if !valNames.isEmpty {
                    let valY = valNames.map { table[$0]! }
                    let valZ = HeadFitter.logits(valX, weight: result.weight, bias: result.bias)
                    print("validation: \(valNames.count) images")
                    print(HeadReport.accuracyLines(logits: valZ, labels: valY, names: c.labels, indent: "  "))
                    valNote = String(format: "validation accuracy %.1f %% on %d images",
                                     100 * HeadFitter.accuracy(logits: valZ, labels: valY, rule: .sigmoid), valNames.count)
                }
                let source = try ImportSources.backbone(model)
                var importOptions = ImportOptions()
                importOptions.heads = c.numHeads
                importOptions.nLastBlocks = c.nLastBlocks
                importOptions.labels = c.labels
                importOptions.inputShortSide = c.inputShortSide
                importOptions.mean = c.mean
                importOptions.std = c.std
                importOptions.positionalInterpolation = c.positionalInterpolation
                importOptions.name = c.name
                let origin = "snna head fit on '\(images)' with '\(labels)' (\(trainNames.count) train, \(valNote); "
                    + "\(epochs) epochs, lr \(lr)·\(batch)/256, batch \(batch), weight decay \(weightDecay), "
                    + "\(standardize ? "standardized features, " : "")seed \(seed), flips \(noFlip ? "off" : "on"))"
                let head = HeadSource.trained(
                    weight: NamedTensor(name: "head.weight", shape: [c.numClasses, c.featureDim], values: result.weight),
                    bias: NamedTensor(name: "head.bias", shape: [c.numClasses], values: result.bias),
                    origin: origin)
                _ = try ModelAssembler.write(backbone: source.backbone, head: head, options: importOptions,
                                             provenance: "backbone of '\(model)' (\(c.provenance ?? "no provenance"))",
                                             to: output)
                print("wrote \(output)")
                if let saveHead {
                    try SafeTensorsWriter.write(
                        tensors: [("head.weight", [c.numClasses, c.featureDim], result.weight), ("head.bias", [c.numClasses], result.bias)],
                        metadata: ["labels": c.labels.joined(separator: ","), "n_last_blocks": "\(c.nLastBlocks)",
                                   "provenance": origin],
                        to: saveHead)
                    print("wrote \(saveHead) (the head alone: `snna model import --head \(saveHead)` attaches it to a backbone)")
                }
            }
        }
    }
}
