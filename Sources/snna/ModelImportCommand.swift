import ArgumentParser
import Foundation
import SNNAModel
import SNNAModelImport

extension ModelCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Convert a ViT checkpoint (PyTorch, safetensors in DINO/timm/HuggingFace naming, ONNX) and a head into an snna-vit/1 model.",
            discussion: """
            Example: snna model import --backbone backbone_200.pth --head classifier.pth.tar \
            --labels move_forward,slow_down,turn_left,turn_right -o snna-bdd.safetensors
            See docs/model-import.md for every layout and default.
            """)

        @Option(help: "Backbone: a PyTorch checkpoint (DINO teacher/student or bare state dict), a safetensors ViT (DINO/timm/HuggingFace naming, or an snna-vit/1 file), or an ONNX ViT.")
        var backbone: String

        @Option(help: "Head: a classifier checkpoint (state_dict → module.linear.weight|bias), 'random' or 'zero' (with --classes). Default: the head inside --backbone when it has one.")
        var head: String?

        @Option(help: "Classes for --head random|zero.") var classes: Int?
        @Option(help: "Comma-separated class labels (default: the BDD-OIA actions for 4 classes).") var labels: String?
        @Option(help: "Attention heads (default: width/64).") var heads: Int?
        @Option(help: "Short side images are resized to (default 360, or the --backbone file's own for an snna-vit/1 file).")
        var inputShortSide: Int?
        @Option(help: "Normalization mean, three comma-separated numbers (default ImageNet).") var mean: String?
        @Option(help: "Normalization std, three comma-separated numbers (default ImageNet).") var std: String?
        @Option(help: "dino or size (default: size for LayerScale/DINOv2 and ONNX backbones, dino otherwise).")
        var posEmbedInterpolation: String?
        @Option(help: "Blocks whose CLS tokens feed the head (default 4, or the depth if smaller).") var nLastBlocks: Int?
        @Option(help: "Model name recorded in the file.") var name: String?
        @Option(help: "Seed of a random head.") var seed: UInt64 = 0
        @Option(name: [.short, .long], help: "Output file.") var output: String

        func run() throws {
            try reportingErrors {
                var options = ImportOptions()
                options.heads = heads
                options.nLastBlocks = nLastBlocks
                options.name = name
                if let labels { options.labels = labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                if let mean { options.mean = try triple(mean, "--mean") }
                if let std { options.std = try triple(std, "--std") }
                if let p = posEmbedInterpolation {
                    guard let mode = PositionalInterpolation(rawValue: p) else {
                        throw CLIError("--pos-embed-interpolation must be dino or size")
                    }
                    options.positionalInterpolation = mode
                }
                if let inputShortSide, !(1...ModelFile.maxInputShortSide).contains(inputShortSide) {
                    throw CLIError("--input-short-side must be in 1…\(ModelFile.maxInputShortSide)")
                }
                let source = try ImportSources.backbone(backbone)
                options.inputShortSide = inputShortSide ?? source.config?.inputShortSide ?? 360
                if let c = source.config {
                    // Re-importing an snna-vit/1 file: what is not given stays as the file has it.
                    options.heads = options.heads ?? c.numHeads
                    options.nLastBlocks = options.nLastBlocks ?? c.nLastBlocks
                    options.name = options.name ?? c.name
                    if mean == nil { options.mean = c.mean }
                    if std == nil { options.std = c.std }
                    options.positionalInterpolation = options.positionalInterpolation ?? c.positionalInterpolation
                }
                if source.kind == .onnx && options.positionalInterpolation == nil { options.positionalInterpolation = .size }
                let headSource: HeadSource
                switch head {
                case "random"?:
                    guard let classes else { throw CLIError("--head random needs --classes N") }
                    headSource = .random(classes: classes, seed: seed)
                case "zero"?:
                    guard let classes else { throw CLIError("--head zero needs --classes N") }
                    headSource = .zero(classes: classes)
                case let file?:
                    headSource = try ImportSources.head(file)
                case nil:
                    guard let w = source.head.first(where: { $0.name == "head.weight" }),
                          let b = source.head.first(where: { $0.name == "head.bias" }) else {
                        throw CLIError("'\(backbone)' has no head: give --head FILE, or --head random|zero with --classes N")
                    }
                    headSource = .trained(weight: w, bias: b, origin: "'\(backbone)'")
                }
                if options.labels == nil, let c = source.config, headSource.classes == c.numClasses { options.labels = c.labels }
                let provenance = "snna model import: backbone '\(backbone)' (\(source.kind.rawValue)\(source.notes.isEmpty ? "" : "; " + source.notes.joined(separator: "; ")))"
                let model = try ModelAssembler.write(backbone: source.backbone, head: headSource, options: options,
                                                     provenance: provenance, to: output)
                let c = model.config
                print("wrote \(output): ViT patch \(c.patchSize), width \(c.dim), depth \(c.depth), \(c.numHeads) heads, "
                      + "\(c.numClasses) classes (\(c.labels.joined(separator: ", "))), \(model.weights.parameterCount) parameters")
            }
        }

        func triple(_ text: String, _ option: String) throws -> [Float] {
            let v = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 3, v.allSatisfy({ $0.isFinite }) else { throw CLIError("\(option) needs three numbers") }
            return v
        }
    }
}
