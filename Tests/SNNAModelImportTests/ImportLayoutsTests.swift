import Foundation
import Testing
import SNNAKernels
@testable import SNNAModel
@testable import SNNAModelImport

/// Backbones in every naming the importer accepts come out as exactly the weights that went in.
@Suite struct ImportLayoutsTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "snna-import-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    /// The DINO-named tensors of a model (what `ModelFile.save` writes), read back.
    func dinoTensors(_ m: ViTModel) throws -> [NamedTensor] {
        let path = dir + "/src-\(UInt32.random(in: 0...UInt32.max)).safetensors"
        try ModelFile.save(m, to: path)
        return try CheckpointSources.safetensors(path)
    }

    func importBackbone(_ tensors: [NamedTensor], like m: ViTModel) throws -> ViTModel {
        let src = dir + "/backbone-\(UInt32.random(in: 0...UInt32.max)).safetensors"
        try SafeTensorsWriter.write(tensors: tensors.map { ($0.name, $0.shape, $0.values) }, metadata: [:], to: src)
        let source = try ImportSources.backbone(src)
        var options = ImportOptions()
        options.heads = m.config.numHeads
        options.nLastBlocks = m.config.nLastBlocks
        options.labels = m.config.labels
        options.positionalInterpolation = m.config.positionalInterpolation
        let head = m.weights.head
        return try ModelAssembler.write(
            backbone: source.backbone,
            head: .trained(weight: NamedTensor(name: "head.weight", shape: [head.outFeatures, head.inFeatures], values: head.weight.data),
                           bias: NamedTensor(name: "head.bias", shape: [head.outFeatures], values: head.bias), origin: "test"),
            options: options, provenance: "test", to: dir + "/out-\(UInt32.random(in: 0...UInt32.max)).safetensors")
    }

    func expectSameWeights(_ a: ViTModel, _ b: ViTModel) {
        #expect(a.weights == b.weights)
        #expect(a.config.dim == b.config.dim && a.config.depth == b.config.depth && a.config.patchSize == b.config.patchSize)
        #expect(a.config.hasLayerScale == b.config.hasLayerScale)
    }

    @Test func dinoNamingWithWrapperPrefixesAndPretrainingExtras() throws {
        let m = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, seed: 1)
        var t = try dinoTensors(m).filter { !$0.name.hasPrefix("head.") }
        t = t.map { NamedTensor(name: "module.backbone." + $0.name, shape: $0.shape, values: $0.values) }
        t.append(NamedTensor(name: "module.head.mlp.0.weight", shape: [2, 2], values: [1, 2, 3, 4]))
        t.append(NamedTensor(name: "mask_token", shape: [1, 16], values: [Float](repeating: 0, count: 16)))
        let imported = try importBackbone(t, like: m)
        expectSameWeights(imported, m)
    }

    /// HuggingFace `Dinov2Model` naming (separate query/key/value, layer_scale lambdas, LayerScale, patch 14).
    @Test func huggingFaceDinov2Naming() throws {
        let m = RandomModel.make(patchSize: 14, dim: 24, depth: 2, numHeads: 3, numClasses: 4, gridSize: 2, nLastBlocks: 2,
                                 layerScale: true, positionalInterpolation: .size, seed: 2)
        let w = m.weights, d = 24
        var t: [NamedTensor] = [
            .init(name: "embeddings.cls_token", shape: [1, 1, d], values: w.clsToken),
            .init(name: "embeddings.mask_token", shape: [1, d], values: [Float](repeating: 0, count: d)),
            .init(name: "embeddings.position_embeddings", shape: [1, 5, d], values: w.posEmbed.data),
            .init(name: "embeddings.patch_embeddings.projection.weight", shape: [d, 3, 14, 14], values: w.patchEmbed.weight.data),
            .init(name: "embeddings.patch_embeddings.projection.bias", shape: [d], values: w.patchEmbed.bias),
            .init(name: "layernorm.weight", shape: [d], values: w.norm.gamma),
            .init(name: "layernorm.bias", shape: [d], values: w.norm.beta),
        ]
        for (i, b) in w.blocks.enumerated() {
            let p = "encoder.layer.\(i)."
            let q = Array(b.qkv.weight.data[0..<(d * d)]), k = Array(b.qkv.weight.data[(d * d)..<(2 * d * d)]),
                v = Array(b.qkv.weight.data[(2 * d * d)...])
            t += [
                .init(name: p + "layernorm_before.weight", shape: [d], values: b.norm1.gamma),
                .init(name: p + "layernorm_before.bias", shape: [d], values: b.norm1.beta),
                .init(name: p + "attention.attention.query.weight", shape: [d, d], values: q),
                .init(name: p + "attention.attention.key.weight", shape: [d, d], values: k),
                .init(name: p + "attention.attention.value.weight", shape: [d, d], values: v),
                .init(name: p + "attention.attention.query.bias", shape: [d], values: Array(b.qkv.bias[0..<d])),
                .init(name: p + "attention.attention.key.bias", shape: [d], values: Array(b.qkv.bias[d..<(2 * d)])),
                .init(name: p + "attention.attention.value.bias", shape: [d], values: Array(b.qkv.bias[(2 * d)...])),
                .init(name: p + "attention.output.dense.weight", shape: [d, d], values: b.proj.weight.data),
                .init(name: p + "attention.output.dense.bias", shape: [d], values: b.proj.bias),
                .init(name: p + "layernorm_after.weight", shape: [d], values: b.norm2.gamma),
                .init(name: p + "layernorm_after.bias", shape: [d], values: b.norm2.beta),
                .init(name: p + "mlp.fc1.weight", shape: [4 * d, d], values: b.fc1.weight.data),
                .init(name: p + "mlp.fc1.bias", shape: [4 * d], values: b.fc1.bias),
                .init(name: p + "mlp.fc2.weight", shape: [d, 4 * d], values: b.fc2.weight.data),
                .init(name: p + "mlp.fc2.bias", shape: [d], values: b.fc2.bias),
                .init(name: p + "layer_scale1.lambda1", shape: [d], values: b.layerScale1!),
                .init(name: p + "layer_scale2.lambda1", shape: [d], values: b.layerScale2!),
            ]
        }
        let imported = try importBackbone(t.map { NamedTensor(name: "dinov2." + $0.name, shape: $0.shape, values: $0.values) },
                                          like: m)
        expectSameWeights(imported, m)
        #expect(imported.config.positionalInterpolation == .size)
        // Same weights, so the same forward as the original model (whose forward the engine suite checks against
        // the plain reference for exactly this shape: patch 14, LayerScale, size interpolation).
        var rng = SeededRandom(seed: 3)
        let image = ImageTensor(channels: 3, height: 28, width: 42, data: (0..<(3 * 28 * 42)).map { _ in rng.gaussian() })
        #expect(try ViTEngine(model: imported).predict([image]) == ViTEngine(model: m).predict([image]))
    }

    @Test func missingTensorsAndRegisterTokensAreRefusedByName() throws {
        let m = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, seed: 4)
        let t = try dinoTensors(m).filter { !$0.name.hasPrefix("head.") }
        #expect {
            _ = try importBackbone(t.filter { $0.name != "blocks.2.mlp.fc1.bias" }, like: m)
        } throws: { "\($0)".contains("blocks.2.mlp.fc1.bias") }
        #expect {
            _ = try importBackbone(t + [NamedTensor(name: "register_tokens", shape: [1, 4, 16], values: [Float](repeating: 0, count: 64))], like: m)
        } throws: { "\($0)".contains("register tokens") }
    }

    @Test func headShapeMustMatchTheBackbone() throws {
        let m = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, nLastBlocks: 3, seed: 5)
        let t = try dinoTensors(m).filter { !$0.name.hasPrefix("head.") }
        var options = ImportOptions()
        options.nLastBlocks = 2
        #expect {
            _ = try ModelAssembler.write(backbone: t, head: .trained(weight: .init(name: "w", shape: [4, 48], values: [Float](repeating: 0, count: 192)),
                                                                     bias: .init(name: "b", shape: [4], values: [0, 0, 0, 0]), origin: "x"),
                                         options: options, provenance: "t", to: dir + "/bad.safetensors")
        } throws: { "\($0)".contains("expected [C, 2·16 = 32]") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad.safetensors"))
        let zero = try ModelAssembler.write(backbone: t, head: .zero(classes: 2), options: options, provenance: "t",
                                            to: dir + "/zero.safetensors")
        #expect(zero.weights.head.weight.data.allSatisfy { $0 == 0 } && zero.config.numClasses == 2)
        #expect(zero.config.provenance?.contains("ZERO head") == true)
    }
}
