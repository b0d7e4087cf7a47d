import Foundation

/// Maps the tensor names of the ViT layouts users arrive with onto the DINO names of `snna-vit/1`:
/// DINO / timm (already DINO names, possibly with `module.`/`backbone.` from DDP and DINO's wrapper, DINOv2's
/// `mask_token`), and HuggingFace `Dinov2Model` / `ViTModel` (separate query/key/value, `layer_scale1.lambda1`, …).
public enum BackboneNaming {
    /// Keys that belong to a training head or to pretraining only, dropped with a note.
    static func isPretrainingOnly(_ name: String) -> Bool {
        name == "mask_token" || name.hasPrefix("head.") || name == "embeddings.mask_token" || name.hasPrefix("pooler.")
    }

    /// The authors' loader strips these substrings anywhere in a key (reference §1.6).
    public static func stripWrappers(_ name: String) -> String {
        name.replacingOccurrences(of: "module.", with: "").replacingOccurrences(of: "backbone.", with: "")
    }

    /// Converts any supported naming to DINO names. Returns the tensors and human-readable notes (what was dropped
    /// or fused). Throws on layouts it cannot map (e.g. register tokens), naming the key.
    public static func toDINO(_ input: [NamedTensor]) throws -> (tensors: [NamedTensor], notes: [String]) {
        var byName: [String: NamedTensor] = [:]
        var order: [String] = []
        for t in input {
            var n = stripWrappers(t.name)
            for prefix in ["dinov2.", "vit.", "model."] where n.hasPrefix(prefix) { n = String(n.dropFirst(prefix.count)) }
            guard byName[n] == nil else { throw ImportError("two tensors map to '\(n)' (from '\(t.name)')") }
            byName[n] = NamedTensor(name: n, shape: t.shape, values: t.values)
            order.append(n)
        }
        if byName.keys.contains(where: { $0.hasPrefix("encoder.layer.") }) {
            return try fromHuggingFace(byName)
        }
        var notes: [String] = []
        var out: [NamedTensor] = []
        for n in order {
            if n.contains("register_tokens") { throw ImportError("'\(n)': ViTs with register tokens are not supported") }
            if isPretrainingOnly(n) {
                notes.append("dropped \(n)")
                continue
            }
            out.append(byName[n]!)
        }
        let droppedHeads = notes.filter { $0.hasPrefix("dropped head.") }.count
        if droppedHeads > 0 {
            notes = notes.filter { !$0.hasPrefix("dropped head.") } + ["dropped \(droppedHeads) pretraining-head tensors"]
        }
        return (out, notes)
    }

    /// HuggingFace `Dinov2Model` / `ViTModel`: separate q, k, v fused into DINO's qkv rows (q | k | v).
    static func fromHuggingFace(_ t: [String: NamedTensor]) throws -> (tensors: [NamedTensor], notes: [String]) {
        func get(_ n: String) throws -> NamedTensor {
            guard let v = t[n] else { throw ImportError("HuggingFace layout: missing tensor '\(n)'") }
            return v
        }
        func renamed(_ n: String, _ to: String) throws -> NamedTensor {
            var v = try get(n)
            v.name = to
            return v
        }
        var out: [NamedTensor] = []
        var used = Set<String>()
        func take(_ n: String, as to: String) throws {
            out.append(try renamed(n, to))
            used.insert(n)
        }
        try take("embeddings.cls_token", as: "cls_token")
        try take("embeddings.position_embeddings", as: "pos_embed")
        try take("embeddings.patch_embeddings.projection.weight", as: "patch_embed.proj.weight")
        try take("embeddings.patch_embeddings.projection.bias", as: "patch_embed.proj.bias")
        var depth = 0
        while t["encoder.layer.\(depth).attention.attention.query.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw ImportError("HuggingFace layout: no 'encoder.layer.0.attention.attention.query.weight'") }
        for i in 0..<depth {
            let p = "encoder.layer.\(i)."
            try take(p + "layernorm_before.weight", as: "blocks.\(i).norm1.weight")
            try take(p + "layernorm_before.bias", as: "blocks.\(i).norm1.bias")
            let q = try get(p + "attention.attention.query.weight"), k = try get(p + "attention.attention.key.weight"),
                v = try get(p + "attention.attention.value.weight")
            let qb = try get(p + "attention.attention.query.bias"), kb = try get(p + "attention.attention.key.bias"),
                vb = try get(p + "attention.attention.value.bias")
            guard q.shape == k.shape && k.shape == v.shape && q.shape.count == 2 else {
                throw ImportError("'\(p)attention.attention.{query,key,value}.weight' shapes differ: \(q.shape) \(k.shape) \(v.shape)")
            }
            out.append(NamedTensor(name: "blocks.\(i).attn.qkv.weight", shape: [3 * q.shape[0], q.shape[1]],
                                   values: q.values + k.values + v.values))
            out.append(NamedTensor(name: "blocks.\(i).attn.qkv.bias", shape: [3 * qb.values.count],
                                   values: qb.values + kb.values + vb.values))
            for n in ["query", "key", "value"] {
                used.insert(p + "attention.attention.\(n).weight")
                used.insert(p + "attention.attention.\(n).bias")
            }
            try take(p + "attention.output.dense.weight", as: "blocks.\(i).attn.proj.weight")
            try take(p + "attention.output.dense.bias", as: "blocks.\(i).attn.proj.bias")
            try take(p + "layernorm_after.weight", as: "blocks.\(i).norm2.weight")
            try take(p + "layernorm_after.bias", as: "blocks.\(i).norm2.bias")
            if t[p + "mlp.fc1.weight"] != nil {  // Dinov2Model
                try take(p + "mlp.fc1.weight", as: "blocks.\(i).mlp.fc1.weight")
                try take(p + "mlp.fc1.bias", as: "blocks.\(i).mlp.fc1.bias")
                try take(p + "mlp.fc2.weight", as: "blocks.\(i).mlp.fc2.weight")
                try take(p + "mlp.fc2.bias", as: "blocks.\(i).mlp.fc2.bias")
            } else {  // ViTModel
                try take(p + "intermediate.dense.weight", as: "blocks.\(i).mlp.fc1.weight")
                try take(p + "intermediate.dense.bias", as: "blocks.\(i).mlp.fc1.bias")
                try take(p + "output.dense.weight", as: "blocks.\(i).mlp.fc2.weight")
                try take(p + "output.dense.bias", as: "blocks.\(i).mlp.fc2.bias")
            }
            if t[p + "layer_scale1.lambda1"] != nil {
                try take(p + "layer_scale1.lambda1", as: "blocks.\(i).ls1.gamma")
                try take(p + "layer_scale2.lambda1", as: "blocks.\(i).ls2.gamma")
            }
        }
        try take("layernorm.weight", as: "norm.weight")
        try take("layernorm.bias", as: "norm.bias")
        var notes = ["converted from HuggingFace naming (query/key/value fused into qkv)"]
        for n in t.keys.sorted() where !used.contains(n) {
            if isPretrainingOnly(n) { notes.append("dropped \(n)"); continue }
            throw ImportError("HuggingFace layout: unexpected tensor '\(n)'")
        }
        return (out, notes)
    }
}
