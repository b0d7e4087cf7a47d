import Foundation
import SNNAKernels
import SNNAModel

/// Where the multi-label head comes from.
public enum HeadSource: Sendable {
    /// How many classes the head has.
    public var classes: Int {
        switch self {
        case .trained(let w, _, _): return w.shape.first ?? 0
        case .random(let c, _), .zero(let c): return c
        }
    }

    /// A trained head: weight [C, n_last·D] and bias [C].
    case trained(weight: NamedTensor, bias: NamedTensor, origin: String)
    /// N(0, 0.01²) weights and zero bias, as the authors initialise it (reference §6.2), for fitting later.
    case random(classes: Int, seed: UInt64)
    /// All zeros, for fitting later.
    case zero(classes: Int)
}

/// What the shapes cannot tell (issue #6 options, with the defaults documented in docs/model-import.md).
public struct ImportOptions: Sendable {
    public var heads: Int?
    public var inputShortSide = 360
    public var mean: [Float] = ViTConfig.imagenetMean
    public var std: [Float] = ViTConfig.imagenetStd
    /// nil: `size` for a backbone with LayerScale (DINOv2), `dino` otherwise.
    public var positionalInterpolation: PositionalInterpolation?
    /// nil: 4, or the depth when the backbone has fewer blocks.
    public var nLastBlocks: Int?
    public var labels: [String]?
    public var name: String?
    public init() {}
}

/// Writes DINO-named backbone tensors plus a head as a validated `snna-vit/1` file.
public enum ModelAssembler {
    public static func write(backbone: [NamedTensor], head: HeadSource, options: ImportOptions, provenance: String,
                             to path: String) throws -> ViTModel {
        guard let cls = backbone.first(where: { $0.name == "cls_token" }), cls.shape.count == 3 else {
            throw ImportError("the backbone has no 'cls_token' of shape [1, 1, D]")
        }
        let d = cls.shape[2]
        let depth = (0...).first { i in !backbone.contains { $0.name == "blocks.\(i).norm1.weight" } } ?? 0
        guard depth > 0 else { throw ImportError("the backbone has no transformer blocks ('blocks.0.norm1.weight')") }
        let nLast = options.nLastBlocks ?? min(4, depth)
        guard (1...depth).contains(nLast) else { throw ImportError("--n-last-blocks \(nLast) must be in 1…\(depth)") }
        let heads = options.heads ?? max(1, d / 64)
        guard heads >= 1, d % heads == 0 else { throw ImportError("--heads \(heads) does not divide the width \(d)") }
        let hasLayerScale = backbone.contains { $0.name == "blocks.0.ls1.gamma" }
        let interpolation = options.positionalInterpolation ?? (hasLayerScale ? .size : .dino)

        var tensors = backbone.filter { !$0.name.hasPrefix("head.") }
        var headNote: String
        let classes: Int
        switch head {
        case .trained(let w, let b, let origin):
            guard w.shape.count == 2, w.shape[1] == nLast * d else {
                throw ImportError("head weight from \(origin) has shape \(w.shape), expected [C, \(nLast)·\(d) = \(nLast * d)] "
                                  + "(n_last_blocks \(nLast), width \(d))")
            }
            guard b.shape == [w.shape[0]] else { throw ImportError("head bias from \(origin) has shape \(b.shape), expected [\(w.shape[0])]") }
            classes = w.shape[0]
            tensors.append(NamedTensor(name: "head.weight", shape: w.shape, values: w.values))
            tensors.append(NamedTensor(name: "head.bias", shape: b.shape, values: b.values))
            headNote = "head from \(origin)"
        case .random(let c, let seed):
            guard c >= 1 else { throw ImportError("--classes must be at least 1") }
            classes = c
            var rng = SeededRandom(seed: seed)
            tensors.append(NamedTensor(name: "head.weight", shape: [c, nLast * d],
                                       values: (0..<(c * nLast * d)).map { _ in 0.01 * rng.gaussian() }))
            tensors.append(NamedTensor(name: "head.bias", shape: [c], values: [Float](repeating: 0, count: c)))
            headNote = "RANDOM head (N(0, 0.01²), seed \(seed)): not trained, fit one before trusting predictions"
        case .zero(let c):
            guard c >= 1 else { throw ImportError("--classes must be at least 1") }
            classes = c
            tensors.append(NamedTensor(name: "head.weight", shape: [c, nLast * d], values: [Float](repeating: 0, count: c * nLast * d)))
            tensors.append(NamedTensor(name: "head.bias", shape: [c], values: [Float](repeating: 0, count: c)))
            headNote = "ZERO head: not trained, every logit is 0 until a head is fitted"
        }
        let labels = options.labels ?? (classes == 4 ? ViTConfig.bddActions : (0..<classes).map { "class_\($0)" })
        guard labels.count == classes else { throw ImportError("--labels has \(labels.count) names for \(classes) classes") }

        func json(_ values: [Float]) -> String { "[" + values.map { "\(Double($0))" }.joined(separator: ", ") + "]" }
        let labelJSON = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        var metadata: [String: String] = [
            "format": ModelFile.format, "num_heads": String(heads), "n_last_blocks": String(nLast),
            "labels": labelJSON, "input_short_side": String(options.inputShortSide), "mean": json(options.mean),
            "std": json(options.std), "layer_norm_eps": "1e-06", "pos_embed_interpolation": interpolation.rawValue,
            "provenance": provenance + "; " + headNote,
        ]
        if let name = options.name { metadata["name"] = name }
        let staging = path + ".importing-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try SafeTensorsWriter.write(tensors: tensors.map { ($0.name, $0.shape, $0.values) }, metadata: metadata,
                                    to: staging)
        // The loader's checks are the contract: every backbone tensor present, every shape consistent.
        let model: ViTModel
        do {
            model = try ModelFile.load(path: staging)
        } catch let e as EngineError {
            throw ImportError(e.message.replacingOccurrences(of: "model file '\(staging)': ", with: "imported model: "))
        }
        _ = try ViTEngine(model: model)
        guard rename(staging, path) == 0 else {
            throw ImportError("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        return model
    }
}
