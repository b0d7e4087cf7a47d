import ArgumentParser
import Foundation
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAModelImport
import SNNAPipeline

struct HeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head", abstract: "Fit a model's multi-label head.", subcommands: [Fit.self])

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
        @Flag(help: "Do not add horizontally flipped pictures (which swap turn_left and turn_right).") var noFlip = false
        @Option(name: [.short, .long], help: "Output model file.") var output: String

        func run() throws {
            try reportingErrors {
                guard epochs >= 1, batch >= 1, lr > 0, (0..<1).contains(valFraction) else {
                    throw CLIError("--epochs and --batch must be at least 1, --lr positive, --val-fraction in [0, 1)")
                }
                try checkOutputFile(output, option: "-o")
                let vit = try ModelFile.load(path: model)
                let engine = try ViTEngine(model: vit)
                let c = vit.config
                let table = try LabelsFile.read(labels, labels: c.labels)
                var names = table.keys.sorted()
                for name in names where !FileManager.default.fileExists(atPath: images + "/" + name) {
                    throw CLIError("labels file '\(labels)' lists '\(name)', which is not in '\(images)'")
                }
                guard names.count >= 2 else { throw CLIError("need at least 2 labelled images, found \(names.count)") }
                var rng = SeededRandom(seed: seed)
                names.shuffle(using: &rng)
                let valCount = valFraction > 0 ? max(1, Int((Double(names.count) * valFraction).rounded())) : 0
                let valNames = Array(names.prefix(valCount)), trainNames = Array(names.dropFirst(valCount))
                let swap = (c.labels.firstIndex(of: "turn_left"), c.labels.firstIndex(of: "turn_right"))
                func features(_ list: [String], flip: Bool) throws -> [[Float]] {
                    var out: [[Float]] = []
                    for chunk in stride(from: 0, to: list.count, by: 8).map({ Array(list[$0..<min(list.count, $0 + 8)]) }) {
                        let inputs = try chunk.map { name -> ImageTensor in
                            var picture = try ImageDecoder.decode(path: images + "/" + name)
                            if flip { picture = picture.flippedHorizontally() }
                            return try ModelInput(picture, engine: engine, name: "image '\(name)'").tensor
                        }
                        out += try engine.features(inputs)
                    }
                    return out
                }
                let trainX = try features(trainNames, flip: false)
                let trainY = trainNames.map { table[$0]! }
                var flippedX: [[Float]]?, flippedY: [[Float]]?
                if !noFlip {
                    flippedX = try features(trainNames, flip: true)
                    flippedY = trainY.map { y in
                        var s = y
                        if let l = swap.0, let r = swap.1 { s.swapAt(l, r) }
                        return s
                    }
                }
                var options = HeadFitter.Options()
                options.epochs = epochs
                options.baseLearningRate = lr
                options.batch = batch
                options.seed = seed
                let result = HeadFitter.fit(features: trainX, labels: trainY, flipped: flippedX, flippedLabels: flippedY,
                                            options: options)
                let trainZ = HeadFitter.logits(trainX, weight: result.weight, bias: result.bias)
                print(String(format: "train: %d images, loss %.4f → %.4f, accuracy %.1f %% (sigmoid rule), %.1f %% (authors' logit > 0.5)",
                             trainNames.count, result.lossPerEpoch.first ?? 0, result.lossPerEpoch.last ?? 0,
                             100 * HeadFitter.accuracy(logits: trainZ, labels: trainY, rule: .sigmoid),
                             100 * HeadFitter.accuracy(logits: trainZ, labels: trainY, rule: .authors)))
                var valNote = "no validation split"
                if !valNames.isEmpty {
                    let valX = try features(valNames, flip: false), valY = valNames.map { table[$0]! }
                    let valZ = HeadFitter.logits(valX, weight: result.weight, bias: result.bias)
                    let a = HeadFitter.accuracy(logits: valZ, labels: valY, rule: .sigmoid)
                    let b = HeadFitter.accuracy(logits: valZ, labels: valY, rule: .authors)
                    print(String(format: "validation: %d images, accuracy %.1f %% (sigmoid rule), %.1f %% (authors' logit > 0.5)",
                                 valNames.count, 100 * a, 100 * b))
                    valNote = String(format: "validation accuracy %.1f %% on %d images", 100 * a, valNames.count)
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
                let head = HeadSource.trained(
                    weight: NamedTensor(name: "head.weight", shape: [c.numClasses, c.featureDim], values: result.weight),
                    bias: NamedTensor(name: "head.bias", shape: [c.numClasses], values: result.bias),
                    origin: "snna head fit on '\(images)' with '\(labels)' (\(trainNames.count) train, \(valNote); "
                        + "\(epochs) epochs, lr \(lr)·\(batch)/256, batch \(batch), seed \(seed), flips \(noFlip ? "off" : "on"))")
                _ = try ModelAssembler.write(backbone: source.backbone, head: head, options: importOptions,
                                             provenance: "backbone of '\(model)' (\(c.provenance ?? "no provenance"))",
                                             to: output)
                print("wrote \(output)")
            }
        }
    }
}

/// Labels for head fitting: file name → one 0/1 value per model label.
enum LabelsFile {
    static func read(_ path: String, labels: [String]) throws -> [String: [Float]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read labels file '\(path)'") }
        let text = String(decoding: data, as: UTF8.self)
        var table: [String: [Float]] = [:]
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            guard let object = try? JSONDecoder().decode([String: [Float]].self, from: data) else {
                throw CLIError("labels file '\(path)': expected a JSON object of file name → list of 0/1 numbers")
            }
            table = object
        } else {
            var order = Array(labels.indices)
            for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
                let fields = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if n == 0, fields.dropFirst().contains(where: { Float($0) == nil }) {
                    order = try fields.dropFirst().map { name in
                        guard let i = labels.firstIndex(of: name) else {
                            throw CLIError("labels file '\(path)': column '\(name)' is not a label of the model (\(labels.joined(separator: ", ")))")
                        }
                        return i
                    }
                    continue
                }
                guard fields.count == labels.count + 1, let name = fields.first else {
                    throw CLIError("labels file '\(path)' line \(n + 1): expected a file name and \(labels.count) values")
                }
                var row = [Float](repeating: 0, count: labels.count)
                for (k, v) in fields.dropFirst().enumerated() {
                    guard let x = Float(v) else { throw CLIError("labels file '\(path)' line \(n + 1): '\(v)' is not a number") }
                    row[order[k]] = x
                }
                table[name] = row
            }
        }
        for (name, row) in table where row.count != labels.count || !row.allSatisfy({ $0 == 0 || $0 == 1 }) {
            throw CLIError("labels file '\(path)': '\(name)' needs \(labels.count) values of 0 or 1 (labels: \(labels.joined(separator: ", ")))")
        }
        return table
    }
}
