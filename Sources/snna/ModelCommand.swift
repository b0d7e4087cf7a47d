import ArgumentParser
import Foundation
import SNNAModel

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect model files and make random ones.",
        subcommands: [Inspect.self, Random.self, Import.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model file's configuration, size, labels and provenance.")

        @Argument(help: "Model file (snna-vit/1 safetensors).")
        var file: String

        func run() throws {
            try reportingErrors {
                let m = try ModelFile.load(path: file)
                let c = m.config
                let arch = "ViT patch \(c.patchSize), width \(c.dim), depth \(c.depth), \(c.numHeads) heads, MLP \(c.mlpDim)"
                print("""
                file:              \(file)
                name:              \(c.name ?? "-")
                architecture:      \(arch)\(c.hasLayerScale ? ", LayerScale" : "")
                parameters:        \(m.weights.parameterCount)
                pretraining grid:  \(c.gridSize)×\(c.gridSize) (\(c.gridSize * c.patchSize) px), interpolation \(c.positionalInterpolation.rawValue)
                head:              \(c.numClasses) classes over the CLS tokens of the last \(c.nLastBlocks) blocks
                labels:            \(c.labels.joined(separator: ", "))
                input short side:  \(c.inputShortSide)
                mean / std:        \(c.mean) / \(c.std)
                layer_norm_eps:    \(c.layerNormEps)
                provenance:        \(c.provenance ?? "-")
                """)
            }
        }
    }

    struct Random: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a reproducible random model of any shape (for tests and benchmarks).",
            discussion: "ViT-S/8 as in the paper: --patch 8 --dim 384 --depth 12 --heads 6 --classes 4")

        @Option(help: "Patch size.") var patch: Int = 8
        @Option(help: "Embedding width D.") var dim: Int = 384
        @Option(help: "Number of blocks.") var depth: Int = 12
        @Option(help: "Attention heads (must divide --dim).") var heads: Int = 6
        @Option(help: "Number of classes.") var classes: Int = 4
        @Option(help: "MLP width as a multiple of D.") var mlpRatio: Int = 4
        @Option(help: "Side of the pretraining position grid.") var grid: Int = 28
        @Option(help: "Blocks whose CLS tokens feed the head (default: 4, or the depth if smaller).") var nLastBlocks: Int?
        @Flag(help: "Add DINOv2 LayerScale.") var layerScale = false
        @Option(help: "Position-embedding interpolation: dino or size.") var interpolation: String = "dino"
        @Option(help: "Short side images are resized to.") var inputShortSide: Int = 360
        @Option(help: "Comma-separated class labels.") var labels: String?
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Option(name: [.short, .long], help: "Output file.") var output: String

        func run() throws {
            try reportingErrors {
                guard patch >= 1, dim >= 1, depth >= 1, heads >= 1, classes >= 1, mlpRatio >= 1, grid >= 1 else {
                    throw CLIError("sizes must be positive")
                }
                guard dim % heads == 0 else { throw CLIError("--heads \(heads) must divide --dim \(dim)") }
                let nLastBlocks = self.nLastBlocks ?? min(4, depth)
                guard (1...depth).contains(nLastBlocks) else { throw CLIError("--n-last-blocks must be in 1…\(depth)") }
                guard let mode = PositionalInterpolation(rawValue: interpolation) else {
                    throw CLIError("--interpolation must be dino or size")
                }
                let names = labels.map { $0.split(separator: ",").map(String.init) }
                if let names, names.count != classes { throw CLIError("--labels has \(names.count) names for \(classes) classes") }
                if let names, Set(names).count != names.count || names.contains(where: \.isEmpty) {
                    throw CLIError("--labels must be distinct, non-empty names")
                }
                guard (patch...ModelFile.maxInputShortSide).contains(inputShortSide) else {
                    throw CLIError("--input-short-side must be in \(patch)…\(ModelFile.maxInputShortSide)")
                }
                let model = RandomModel.make(patchSize: patch, dim: dim, depth: depth, numHeads: heads, numClasses: classes,
                                             mlpRatio: mlpRatio, gridSize: grid, nLastBlocks: nLastBlocks,
                                             layerScale: layerScale, positionalInterpolation: mode,
                                             inputShortSide: inputShortSide, labels: names, seed: seed)
                try ModelFile.save(model, to: output)
                print("wrote \(output): \(model.config.name ?? "") (\(model.weights.parameterCount) parameters)")
            }
        }
    }
}
