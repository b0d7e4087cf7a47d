/// Maps the initializers of a ViT exported to ONNX (DINOv2 / timm / HuggingFace `Dinov2Model`/`ViTModel` exports) onto
/// the `snna-vit/1` backbone tensor names.
///
/// Weights are found by initializer name when the exporter kept it (`backbone.encoder.layer.3.norm1.weight`,
/// `blocks.3.attn.qkv.bias`), otherwise through the name of the node that consumes them: PyTorch's exporter folds a
/// Linear into `MatMul(x, Wᵀ)` with an anonymous `onnx::MatMul_1966` initializer holding Wᵀ ([in, out]), consumed by
/// the node `/backbone/encoder/layer.0/attention/attention/key/MatMul`. Weights consumed by a MatMul (or a Gemm without
/// transB) are transposed back to PyTorch's [out, in]. Separate query/key/value projections are concatenated into rows
/// q | k | v. A position embedding split by constant folding into a CLS piece [1, 1, D] and a grid piece [1, G², D]
/// (DINOv2's `interpolate_pos_encoding`) is joined into [1, 1 + G², D]. Every backbone tensor is required.
public enum OnnxViTImporter {
    public typealias Tensors = [String: (shape: [Int], values: [Float])]

    public static func importBackbone(_ model: OnnxModel, heads: Int?) throws -> (tensors: Tensors, notes: String) {
        var m = Mapper(model: model)
        return try m.run(heads: heads)
    }

    /// The tensor names in the order `ModelFile.save` writes them.
    public static func orderedNames(_ tensors: Tensors) -> [String] {
        let head = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]
        let block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                     "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
                     "ls1.gamma", "ls2.gamma"]
        var names = head
        var i = 0
        while tensors["blocks.\(i).norm1.weight"] != nil {
            names += block.map { "blocks.\(i).\($0)" }
            i += 1
        }
        names += ["norm.weight", "norm.bias"]
        let listed = names.filter { tensors[$0] != nil }
        return listed + tensors.keys.filter { !listed.contains($0) }.sorted()
    }

    // MARK: - Naming

    /// Block sub-module names (after `blocks.{i}.` / `layer.{i}.`) → snna names; `q`, `k`, `v` are fused later.
    static let blockModules: [String: String] = [
        "norm1": "norm1", "layernorm_before": "norm1", "ln_1": "norm1",
        "norm2": "norm2", "layernorm_after": "norm2", "ln_2": "norm2",
        "attn.qkv": "attn.qkv", "attention.qkv": "attn.qkv",
        "attention.attention.query": "attn.q", "attention.query": "attn.q", "attn.q": "attn.q",
        "attn.q_proj": "attn.q", "self_attn.q_proj": "attn.q",
        "attention.attention.key": "attn.k", "attention.key": "attn.k", "attn.k": "attn.k",
        "attn.k_proj": "attn.k", "self_attn.k_proj": "attn.k",
        "attention.attention.value": "attn.v", "attention.value": "attn.v", "attn.v": "attn.v",
        "attn.v_proj": "attn.v", "self_attn.v_proj": "attn.v",
        "attention.output.dense": "attn.proj", "attn.proj": "attn.proj", "attn.out_proj": "attn.proj",
        "self_attn.out_proj": "attn.proj",
        "mlp.fc1": "mlp.fc1", "intermediate.dense": "mlp.fc1",
        "mlp.fc2": "mlp.fc2", "output.dense": "mlp.fc2",
    ]
    static let layerScaleModules: [String: String] = [
        "ls1": "ls1.gamma", "layer_scale1": "ls1.gamma", "ls2": "ls2.gamma", "layer_scale2": "ls2.gamma",
    ]
    static let layerScaleLeaves: Set<String> = ["gamma", "lambda1", "scale", "weight"]
    static let ignoredComponents: Set<String> = ["decoder", "head", "heads", "classifier", "fc_norm", "pooler"]

    /// A dotted parameter path → its snna name (with `attn.q/k/v` and `pos_embed` still to be assembled), or nil.
    static func canonical(_ path: String) -> String? {
        let c = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let leaf = c.last, !c.contains(where: { ignoredComponents.contains($0) }) else { return nil }
        // Inside a block?
        for j in 0..<max(0, c.count - 2) where ["blocks", "layer", "layers"].contains(c[j]) {
            guard let i = Int(c[j + 1]), i >= 0, String(i) == c[j + 1] else { continue }
            let module = c[(j + 2)..<(c.count - 1)].joined(separator: ".")
            if let ls = layerScaleModules[module], layerScaleLeaves.contains(leaf) { return "blocks.\(i).\(ls)" }
            if c.count - 1 == j + 2, ["ls1", "ls2"].contains(where: { leaf == $0 }) { return "blocks.\(i).\(leaf).gamma" }
            guard let mapped = blockModules[module], leaf == "weight" || leaf == "bias" else { return nil }
            return "blocks.\(i).\(mapped).\(leaf)"
        }
        if leaf == "cls_token" { return "cls_token" }
        if leaf == "pos_embed" || leaf == "position_embeddings" { return "pos_embed" }
        guard leaf == "weight" || leaf == "bias", c.count >= 2 else { return nil }
        let module = c[0..<(c.count - 1)].joined(separator: ".")
        if module.hasSuffix("patch_embed.proj") || module.hasSuffix("patch_embeddings.projection") {
            return "patch_embed.proj.\(leaf)"
        }
        if ["norm", "layernorm", "ln_post"].contains(c[c.count - 2]) && c.count <= 4 { return "norm.\(leaf)" }
        return nil
    }

    /// The parameter path a node name implies for one of its initializer inputs, e.g.
    /// `/backbone/encoder/layer.0/mlp/fc1/MatMul`, input 1 → `backbone.encoder.layer.0.mlp.fc1.weight`.
    static func pathFromNode(_ node: OnnxNode, inputIndex: Int) -> String? {
        let parts = node.name.split(separator: "/").map(String.init)
        guard parts.count >= 2 else { return nil }
        let module = parts.dropLast().joined(separator: ".")
        let leaf: String
        switch (node.opType, inputIndex) {
        case ("MatMul", 1), ("Gemm", 1), ("Conv", 1), ("LayerNormalization", 1): leaf = "weight"
        case ("Gemm", 2), ("Conv", 2), ("LayerNormalization", 2): leaf = "bias"
        case ("Add", _): leaf = "bias"
        case ("Mul", _): leaf = "weight"
        default: return nil
        }
        return module + "." + leaf
    }

    // MARK: - Mapping

    struct Found {
        var source: String
        var shape: [Int]
        var values: [Float]
        var transposed: Bool
    }

    struct Mapper {
        let model: OnnxModel
        var found: [String: Found] = [:]
        var unassigned: [String] = []
        var transposedCount = 0
        let src: String

        init(model: OnnxModel) {
            self.model = model
            src = model.source
        }

        func err(_ m: String) -> ImportError { ImportError("\(src): \(m)") }

        mutating func run(heads: Int?) throws -> (tensors: Tensors, notes: String) {
            var consumers: [String: [(OnnxNode, Int)]] = [:]
            for node in model.nodes {
                for (k, input) in node.inputs.enumerated() where model.initializers[input] != nil {
                    consumers[input, default: []].append((node, k))
                }
            }
            for name in model.initializerNames {
                guard let t = model.initializers[name] else { continue }
                let uses = consumers[name] ?? []
                var roles = Set<String>()
                if let r = OnnxViTImporter.canonical(name) {
                    roles.insert(r)
                } else {
                    for (node, k) in uses {
                        if let p = OnnxViTImporter.pathFromNode(node, inputIndex: k), let r = OnnxViTImporter.canonical(p) {
                            roles.insert(r)
                        }
                    }
                }
                guard let role = roles.first else { unassigned.append(name); continue }
                guard roles.count == 1 else {
                    throw err("initializer '\(name)' is used as \(roles.sorted().joined(separator: " and "))")
                }
                // Stored transposed ([in, out]) when a MatMul multiplies by it, or a Gemm without transB.
                let transposed = uses.contains { node, k in
                    k == 1 && (node.opType == "MatMul" || (node.opType == "Gemm" && (node.intAttributes["transB"] ?? 0) == 0))
                }
                if let previous = found[role] {
                    throw err("both '\(previous.source)' and '\(name)' map to \(role)")
                }
                var shape = t.shape, values = t.values
                if transposed {
                    guard shape.count == 2 else { throw err("initializer '\(name)' (\(role)) is a MatMul weight of shape \(shape), not 2-D") }
                    values = transpose(values, rows: shape[0], cols: shape[1])
                    shape = [shape[1], shape[0]]
                    transposedCount += 1
                }
                found[role] = Found(source: name, shape: shape, values: values, transposed: transposed)
            }
            return try assemble(heads: heads)
        }

        func transpose(_ v: [Float], rows: Int, cols: Int) -> [Float] {
            var out = [Float](repeating: 0, count: v.count)
            for r in 0..<rows {
                for c in 0..<cols { out[c * rows + r] = v[r * cols + c] }
            }
            return out
        }

        func take(_ role: String, _ shape: [Int]) throws -> [Float] {
            guard let f = found[role] else { throw err("missing \(role) (no initializer or node name maps to it)") }
            guard f.shape == shape else {
                throw err("initializer '\(f.source)' (\(role)) has shape \(f.shape)\(f.transposed ? " after transposing" : ""), expected \(shape)")
            }
            if let bad = f.values.firstIndex(where: { !$0.isFinite }) {
                throw err("initializer '\(f.source)' (\(role)) has a non-finite value at element \(bad)")
            }
            return f.values
        }

        static func squareRoot(_ n: Int) -> Int? {
            guard n >= 1 else { return nil }
            var g = Int(Double(n).squareRoot().rounded())
            while g * g > n { g -= 1 }
            while (g + 1) * (g + 1) <= n { g += 1 }
            return g * g == n ? g : nil
        }

        mutating func assemble(heads: Int?) throws -> (tensors: Tensors, notes: String) {
            var out: Tensors = [:]
            var notes: [String] = []
            guard let cls = found["cls_token"] else { throw err("missing cls_token (no initializer named *cls_token)") }
            guard let d = cls.shape.last, d >= 1, cls.values.count == d else {
                throw err("cls_token '\(cls.source)' has shape \(cls.shape), expected [1, 1, D]")
            }
            out["cls_token"] = ([1, 1, d], try take("cls_token", cls.shape))

            // Patch embedding.
            guard let pw = found["patch_embed.proj.weight"] else { throw err("missing patch_embed.proj.weight") }
            guard pw.shape.count == 4, pw.shape[2] == pw.shape[3], pw.shape[2] >= 1 else {
                throw err("patch embedding '\(pw.source)' has shape \(pw.shape), expected [\(d), 3, P, P]")
            }
            let p = pw.shape[2]
            out["patch_embed.proj.weight"] = ([d, 3, p, p], try take("patch_embed.proj.weight", [d, 3, p, p]))
            out["patch_embed.proj.bias"] = ([d], try take("patch_embed.proj.bias", [d]))

            // Position embedding: whole, or a CLS piece and a grid piece joined.
            let grid: Int
            if let pe = found["pos_embed"] {
                let n = pe.shape.count >= 2 ? pe.shape[pe.shape.count - 2] : 0
                guard pe.shape.last == d, pe.values.count == n * d, let g = Mapper.squareRoot(n - 1) else {
                    throw err("position embedding '\(pe.source)' has shape \(pe.shape), expected [1, 1 + G², \(d)]")
                }
                grid = g
                out["pos_embed"] = ([1, n, d], try take("pos_embed", pe.shape))
                notes.append("position embedding '\(pe.source)' \(pe.shape)")
            } else {
                let embedUse = Set(model.nodes.filter { $0.name.lowercased().contains("embed") }.flatMap(\.inputs))
                func candidates(_ ok: ([Int]) -> Bool) -> [String] {
                    let all = unassigned.filter { ok(model.initializers[$0]!.shape) }
                    let near = all.filter { embedUse.contains($0) }
                    return near.isEmpty ? all : near
                }
                let clsPieces = candidates { $0 == [1, 1, d] || $0 == [1, d] }
                let gridPieces = candidates { s in
                    (s.count == 3 && s[0] == 1 && s[2] == d && Mapper.squareRoot(s[1]) != nil && s[1] > 1)
                        || (s.count == 2 && s[1] == d && s[0] > 1 && Mapper.squareRoot(s[0]) != nil)
                        || (s.count == 4 && s[0] == 1 && s[1] == s[2] && s[1] > 1 && s[3] == d)
                }
                let wholes = candidates { s in
                    s.count == 3 && s[0] == 1 && s[2] == d && s[1] > 1 && Mapper.squareRoot(s[1] - 1) != nil
                }
                if wholes.count == 1, clsPieces.isEmpty || gridPieces.isEmpty {
                    let t = model.initializers[wholes[0]]!
                    grid = Mapper.squareRoot(t.shape[1] - 1)!
                    out["pos_embed"] = (t.shape, try finite(t))
                    notes.append("position embedding from anonymous '\(t.name)' \(t.shape)")
                } else {
                    guard clsPieces.count == 1, gridPieces.count == 1 else {
                        throw err("cannot find the position embedding: need one [1, 1, \(d)] CLS piece and one [1, G², \(d)] grid piece "
                            + "among unnamed initializers, found \(clsPieces.count) (\(clsPieces.prefix(4).joined(separator: ", "))) "
                            + "and \(gridPieces.count) (\(gridPieces.prefix(4).joined(separator: ", ")))")
                    }
                    let c = model.initializers[clsPieces[0]]!, g = model.initializers[gridPieces[0]]!
                    let n = g.values.count / d
                    grid = Mapper.squareRoot(n)!
                    out["pos_embed"] = ([1, 1 + n, d], try finite(c) + finite(g))
                    notes.append("position embedding joined from '\(c.name)' \(c.shape) + '\(g.name)' \(g.shape)")
                }
            }

            // Blocks.
            var indices = Set<Int>()
            for key in found.keys where key.hasPrefix("blocks.") {
                if let i = Int(key.split(separator: ".")[1]) { indices.insert(i) }
            }
            guard !indices.isEmpty else { throw err("no transformer blocks found") }
            let depth = indices.count
            guard indices == Set(0..<depth) else {
                throw err("blocks are not contiguous: found \(indices.sorted())")
            }
            guard let fc1 = found["blocks.0.mlp.fc1.weight"], fc1.shape.count == 2 else { throw err("missing blocks.0.mlp.fc1.weight") }
            let mlp = fc1.shape[0]
            let hasLayerScale = found["blocks.0.ls1.gamma"] != nil
            var fusedCount = 0
            for i in 0..<depth {
                let b = "blocks.\(i)."
                for n in ["norm1", "norm2"] {
                    out[b + n + ".weight"] = ([d], try take(b + n + ".weight", [d]))
                    out[b + n + ".bias"] = ([d], try take(b + n + ".bias", [d]))
                }
                let separate = ["attn.q", "attn.k", "attn.v"].filter { found[b + $0 + ".weight"] != nil || found[b + $0 + ".bias"] != nil }
                if found[b + "attn.qkv.weight"] != nil || found[b + "attn.qkv.bias"] != nil {
                    guard separate.isEmpty else { throw err("block \(i) has both a fused qkv and separate \(separate.joined(separator: ", "))") }
                    out[b + "attn.qkv.weight"] = ([3 * d, d], try take(b + "attn.qkv.weight", [3 * d, d]))
                    out[b + "attn.qkv.bias"] = ([3 * d], try take(b + "attn.qkv.bias", [3 * d]))
                } else {
                    var w: [Float] = [], bias: [Float] = []
                    for part in ["attn.q", "attn.k", "attn.v"] {
                        w += try take(b + part + ".weight", [d, d])
                        bias += try take(b + part + ".bias", [d])
                    }
                    out[b + "attn.qkv.weight"] = ([3 * d, d], w)
                    out[b + "attn.qkv.bias"] = ([3 * d], bias)
                    fusedCount += 1
                }
                out[b + "attn.proj.weight"] = ([d, d], try take(b + "attn.proj.weight", [d, d]))
                out[b + "attn.proj.bias"] = ([d], try take(b + "attn.proj.bias", [d]))
                out[b + "mlp.fc1.weight"] = ([mlp, d], try take(b + "mlp.fc1.weight", [mlp, d]))
                out[b + "mlp.fc1.bias"] = ([mlp], try take(b + "mlp.fc1.bias", [mlp]))
                out[b + "mlp.fc2.weight"] = ([d, mlp], try take(b + "mlp.fc2.weight", [d, mlp]))
                out[b + "mlp.fc2.bias"] = ([d], try take(b + "mlp.fc2.bias", [d]))
                for ls in ["ls1.gamma", "ls2.gamma"] {
                    if hasLayerScale {
                        out[b + ls] = ([d], try take(b + ls, [d]))
                    } else if let f = found[b + ls] {
                        throw err("LayerScale '\(f.source)' in block \(i) but not in block 0 (every block or none)")
                    }
                }
            }
            out["norm.weight"] = ([d], try take("norm.weight", [d]))
            out["norm.bias"] = ([d], try take("norm.bias", [d]))

            let headsNote: String
            if let heads {
                guard heads >= 1, d % heads == 0 else { throw err("\(heads) heads do not divide the width \(d)") }
                headsNote = "heads \(heads)"
            } else if d % 64 == 0 {
                headsNote = "heads \(d / 64) (default width/64)"
            } else {
                headsNote = "heads not given (width \(d) is not a multiple of 64)"
            }
            let ignored = unassigned.filter { name in
                !(out["pos_embed"] != nil && notes.contains { $0.contains("'\(name)'") })
            }
            var summary = "ONNX ViT\(model.producerName.isEmpty ? "" : " (exported by \(model.producerName))"): "
                + "width \(d), depth \(depth), patch \(p), grid \(grid)×\(grid), MLP \(mlp), \(headsNote)"
                + ", LayerScale \(hasLayerScale ? "present" : "absent")"
                + "; \(transposedCount) MatMul weights transposed to [out, in]"
                + (fusedCount > 0 ? "; separate q/k/v fused in \(fusedCount) blocks" : "")
            summary += "; " + notes.joined(separator: "; ")
                + "; DINOv2/timm exports resize the position embedding by target size (pos_embed_interpolation 'size')"
            if !ignored.isEmpty {
                summary += "; \(ignored.count) initializers not part of the backbone ignored (e.g. "
                    + ignored.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + ")"
            }
            let skipped = model.skippedInitializers.count
            if skipped > 0 { summary += "; \(skipped) non-float initializers skipped" }
            return (out, summary)
        }

        func finite(_ t: OnnxTensor) throws -> [Float] {
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw err("initializer '\(t.name)' has a non-finite value at element \(bad)")
            }
            return t.values
        }
    }
}
