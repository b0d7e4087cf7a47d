import Foundation
import SNNAKernels

/// The `snna-vit/1` model file: one safetensors file with DINO tensor names and string metadata (issue #2 contract).
/// Loading validates every tensor and key and names the culprit in its error.
public enum ModelFile {
    public static let format = "snna-vit/1"
    /// The largest `input_short_side` a file may ask for (4K video's short side is 2160).
    public static let maxInputShortSide = 4096

    /// Loads and validates a model file.
    public static func load(path: String) throws -> ViTModel {
        let file = try SafeTensorsFile(path: path)
        var loader = Loader(file: file)
        return try loader.load()
    }

    /// Writes a model file (float32 unless asked otherwise), atomically.
    public static func save(_ model: ViTModel, to path: String, precision: SafeTensorsWriter.Precision = .f32) throws {
        let c = model.config, w = model.weights
        let d = c.dim, p = c.patchSize
        var t: [(name: String, shape: [Int], values: [Float])] = [
            ("cls_token", [1, 1, d], w.clsToken),
            ("pos_embed", [1, w.posEmbed.rows, d], w.posEmbed.data),
            ("patch_embed.proj.weight", [d, 3, p, p], w.patchEmbed.weight.data),
            ("patch_embed.proj.bias", [d], w.patchEmbed.bias),
        ]
        func linear(_ name: String, _ l: LinearWeights) {
            t.append((name + ".weight", [l.outFeatures, l.inFeatures], l.weight.data))
            t.append((name + ".bias", [l.outFeatures], l.bias))
        }
        func norm(_ name: String, _ n: LayerNormWeights) {
            t.append((name + ".weight", [n.gamma.count], n.gamma))
            t.append((name + ".bias", [n.beta.count], n.beta))
        }
        for (i, b) in w.blocks.enumerated() {
            let pre = "blocks.\(i)."
            norm(pre + "norm1", b.norm1)
            linear(pre + "attn.qkv", b.qkv)
            linear(pre + "attn.proj", b.proj)
            norm(pre + "norm2", b.norm2)
            linear(pre + "mlp.fc1", b.fc1)
            linear(pre + "mlp.fc2", b.fc2)
            if let ls = b.layerScale1 { t.append((pre + "ls1.gamma", [d], ls)) }
            if let ls = b.layerScale2 { t.append((pre + "ls2.gamma", [d], ls)) }
        }
        norm("norm", w.norm)
        linear("head", w.head)
        try SafeTensorsWriter.write(tensors: t, metadata: metadata(of: c), to: path, precision: precision)
    }

    static func metadata(of c: ViTConfig) -> [String: String] {
        func json(_ v: Any) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: v, options: [.withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        var m: [String: String] = [
            "format": format,
            "num_heads": String(c.numHeads),
            "n_last_blocks": String(c.nLastBlocks),
            "labels": json(c.labels),
            "input_short_side": String(c.inputShortSide),
            "mean": json(c.mean.map(Double.init)),
            "std": json(c.std.map(Double.init)),
            "layer_norm_eps": "\(Double(c.layerNormEps))",
            "pos_embed_interpolation": c.positionalInterpolation.rawValue,
        ]
        if let name = c.name { m["name"] = name }
        if let provenance = c.provenance { m["provenance"] = provenance }
        return m
    }
}

/// Reads one file into a model, checking every shape against the ones the first tensors imply.
private struct Loader {
    let file: SafeTensorsFile
    var used = Set<String>()

    init(file: SafeTensorsFile) { self.file = file }

    func fail(_ problem: String) -> EngineError { EngineError("model file '\(file.path)': \(problem)") }

    func shape(_ name: String) throws -> [Int] {
        guard let info = file.tensors[name] else { throw fail("missing tensor '\(name)'") }
        return info.shape
    }

    mutating func tensor(_ name: String, _ expected: [Int]) throws -> [Float] {
        let actual = try shape(name)
        guard actual == expected else {
            throw fail("tensor '\(name)' has shape \(actual), expected \(expected)")
        }
        used.insert(name)
        let values: [Float]
        do { values = try file.floats(name) } catch let e as SafeTensorsError { throw fail(e.message) }
        guard values.allSatisfy({ $0.isFinite }) else { throw fail("tensor '\(name)' contains NaN or infinite values") }
        return values
    }

    mutating func linear(_ name: String, out: Int, in inp: Int) throws -> LinearWeights {
        LinearWeights(weight: Matrix(rows: out, cols: inp, data: try tensor(name + ".weight", [out, inp])),
                      bias: try tensor(name + ".bias", [out]))
    }

    mutating func norm(_ name: String, _ d: Int) throws -> LayerNormWeights {
        LayerNormWeights(gamma: try tensor(name + ".weight", [d]), beta: try tensor(name + ".bias", [d]))
    }

    func meta(_ key: String) -> String? { file.metadata[key] }

    func intMeta(_ key: String, default value: Int? = nil, range: ClosedRange<Int>) throws -> Int {
        guard let text = meta(key) else {
            if let value { return value }
            throw fail("metadata key '\(key)' is missing")
        }
        guard let v = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
            throw fail("metadata key '\(key)' = '\(text)' is not an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    /// A metadata value that must be JSON of type T (decoded strictly: no booleans for numbers, no strings for names).
    func jsonMeta<T: Decodable>(_ key: String, as type: T.Type, expected: String) throws -> T? {
        guard let text = meta(key) else { return nil }
        guard let v = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
            throw fail("metadata key '\(key)' = '\(text.prefix(80))' must be \(expected)")
        }
        return v
    }

    /// A JSON array of three finite numbers, e.g. "[0.485, 0.456, 0.406]".
    func floatTriple(_ key: String, default value: [Float]) throws -> [Float] {
        guard let v = try jsonMeta(key, as: [Double].self, expected: "a JSON array of 3 numbers") else { return value }
        guard v.count == 3, v.allSatisfy({ Float($0).isFinite }) else {
            throw fail("metadata key '\(key)' must be a JSON array of 3 numbers")
        }
        return v.map { Float($0) }
    }

    mutating func load() throws -> ViTModel {
        guard let format = meta("format") else {
            throw fail("metadata key 'format' is missing (expected '\(ModelFile.format)'); is this an snna model?")
        }
        guard format == ModelFile.format else {
            throw fail("metadata key 'format' = '\(format)', expected '\(ModelFile.format)'")
        }
        // Shapes first: they define the architecture.
        let cls = try shape("cls_token")
        guard cls.count == 3, cls[0] == 1, cls[1] == 1, cls[2] > 0 else { throw fail("tensor 'cls_token' has shape \(cls), expected [1, 1, D]") }
        let d = cls[2]
        let pos = try shape("pos_embed")
        guard pos.count == 3, pos[0] == 1, pos[2] == d, pos[1] >= 2 else {
            throw fail("tensor 'pos_embed' has shape \(pos), expected [1, 1+G·G, \(d)]")
        }
        let g = Int(Double(pos[1] - 1).squareRoot().rounded())
        guard g * g == pos[1] - 1 else { throw fail("tensor 'pos_embed' has \(pos[1] - 1) grid positions, not a square grid") }
        let pw = try shape("patch_embed.proj.weight")
        guard pw.count == 4, pw[0] == d, pw[1] == 3, pw[2] == pw[3], pw[2] > 0 else {
            throw fail("tensor 'patch_embed.proj.weight' has shape \(pw), expected [\(d), 3, P, P]")
        }
        let p = pw[2]
        // Checked before it bounds input_short_side below (a range p…max with p > max would trap).
        guard p <= ModelFile.maxInputShortSide else {
            throw fail("tensor 'patch_embed.proj.weight' has patch size \(p), larger than the largest input (\(ModelFile.maxInputShortSide))")
        }
        var depth = 0
        while file.tensors["blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw fail("missing tensor 'blocks.0.norm1.weight' (no transformer blocks)") }
        let fc1 = try shape("blocks.0.mlp.fc1.weight")
        guard fc1.count == 2, fc1[1] == d, fc1[0] > 0 else {
            throw fail("tensor 'blocks.0.mlp.fc1.weight' has shape \(fc1), expected [M, \(d)]")
        }
        let mlp = fc1[0]
        let headShape = try shape("head.weight")
        guard headShape.count == 2, headShape[0] > 0 else { throw fail("tensor 'head.weight' has shape \(headShape), expected [C, n·\(d)]") }
        let classes = headShape[0]

        let heads = try intMeta("num_heads", range: 1...d)
        guard d % heads == 0 else { throw fail("metadata key 'num_heads' = \(heads) does not divide the width \(d)") }
        let nLast = try intMeta("n_last_blocks", default: min(4, depth), range: 1...depth)
        guard headShape[1] == nLast * d else {
            throw fail("tensor 'head.weight' has width \(headShape[1]), expected n_last_blocks·D = \(nLast)·\(d) = \(nLast * d)")
        }
        var labels: [String]? = nil
        if let names = try jsonMeta("labels", as: [String].self, expected: "a JSON array of strings") {
            guard names.count == classes else { throw fail("metadata key 'labels' has \(names.count) names for \(classes) classes") }
            guard Set(names).count == names.count, names.allSatisfy({ !$0.isEmpty }) else {
                throw fail("metadata key 'labels' has empty or duplicate names")
            }
            labels = names
        }
        let shortSide = try intMeta("input_short_side", default: 360, range: p...ModelFile.maxInputShortSide)
        let mean = try floatTriple("mean", default: ViTConfig.imagenetMean)
        let std = try floatTriple("std", default: ViTConfig.imagenetStd)
        guard std.allSatisfy({ $0 > 0 }) else { throw fail("metadata key 'std' must be positive") }
        var eps: Float = 1e-6
        if let text = meta("layer_norm_eps") {
            guard let v = Double(text), v < 1, Float(v) > 0 else { throw fail("metadata key 'layer_norm_eps' = '\(text)' is not a number in (0, 1)") }
            eps = Float(v)
        }
        var interpolation = PositionalInterpolation.dino
        if let text = meta("pos_embed_interpolation") {
            guard let v = PositionalInterpolation(rawValue: text) else {
                throw fail("metadata key 'pos_embed_interpolation' = '\(text)', expected 'dino' or 'size'")
            }
            interpolation = v
        }
        let hasLayerScale = file.tensors["blocks.0.ls1.gamma"] != nil

        // Every tensor, shape-checked.
        let clsToken = try tensor("cls_token", [1, 1, d])
        let posEmbed = Matrix(rows: 1 + g * g, cols: d, data: try tensor("pos_embed", [1, 1 + g * g, d]))
        let patch = LinearWeights(weight: Matrix(rows: d, cols: 3 * p * p, data: try tensor("patch_embed.proj.weight", [d, 3, p, p])),
                                  bias: try tensor("patch_embed.proj.bias", [d]))
        var blocks: [BlockWeights] = []
        for i in 0..<depth {
            let pre = "blocks.\(i)."
            var block = BlockWeights(
                norm1: try norm(pre + "norm1", d),
                qkv: try linear(pre + "attn.qkv", out: 3 * d, in: d),
                proj: try linear(pre + "attn.proj", out: d, in: d),
                norm2: try norm(pre + "norm2", d),
                fc1: try linear(pre + "mlp.fc1", out: mlp, in: d),
                fc2: try linear(pre + "mlp.fc2", out: d, in: mlp))
            if hasLayerScale {
                block.layerScale1 = try tensor(pre + "ls1.gamma", [d])
                block.layerScale2 = try tensor(pre + "ls2.gamma", [d])
            }
            blocks.append(block)
        }
        let finalNorm = try norm("norm", d)
        let head = try linear("head", out: classes, in: nLast * d)
        if let extra = file.names.first(where: { !used.contains($0) }) {
            throw fail("unexpected tensor '\(extra)' (not part of a \(depth)-block ViT\(hasLayerScale ? " with LayerScale" : ""))")
        }
        let config = ViTConfig(patchSize: p, dim: d, depth: depth, numHeads: heads, mlpDim: mlp, gridSize: g,
                               numClasses: classes, nLastBlocks: nLast, labels: labels, inputShortSide: shortSide,
                               mean: mean, std: std, layerNormEps: eps, positionalInterpolation: interpolation,
                               hasLayerScale: hasLayerScale, name: meta("name"), provenance: meta("provenance"))
        let weights = ViTWeights(clsToken: clsToken, posEmbed: posEmbed, patchEmbed: patch, blocks: blocks,
                                 norm: finalNorm, head: head)
        return ViTModel(config: config, weights: weights)
    }
}
