import Foundation
import Testing
import SNNAKernels
@testable import SNNAModel
@testable import SNNAModelImport

/// PyTorch checkpoints in the layouts the authors' scripts write (assembled here the way torch.save lays them out)
/// import to exactly the weights they hold.
@Suite struct TorchImportTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "snna-torch-import-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
    let model = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, nLastBlocks: 3,
                                 seed: 21)

    /// The backbone's DINO-named tensors as fixture values, float32 or float16 storages.
    func stateDict(prefix: String, half: Bool) throws -> [(String, TorchCheckpointFixture.Value)] {
        let path = dir + "/src.safetensors"
        try ModelFile.save(model, to: path)
        let tensors = try CheckpointSources.safetensors(path).filter { !$0.name.hasPrefix("head.") }
        return tensors.enumerated().map { i, t in
            let storage: TorchCheckpointFixture.Storage = half
                ? .f16(t.values.map { HalfPrecision.floatToF16($0) }) : .f32(t.values)
            return (prefix + t.name, .tensor(.init(key: "\(i)", storage: storage, shape: t.shape)))
        }
    }

    func write(_ value: TorchCheckpointFixture.Value, name: String) throws -> String {
        let path = dir + "/" + name
        try Data(TorchCheckpointFixture.checkpoint(value, top: (name as NSString).deletingPathExtension)).write(to: URL(fileURLWithPath: path))
        return path
    }

    func importAndCompare(_ path: String, exact: Bool) throws -> [String] {
        let source = try ImportSources.backbone(path)
        var options = ImportOptions()
        options.heads = 2
        options.nLastBlocks = 3
        let out = try ModelAssembler.write(backbone: source.backbone, head: .zero(classes: 4), options: options,
                                           provenance: "test", to: dir + "/out.safetensors")
        var expected = model.weights
        expected.head = out.weights.head
        if exact {
            #expect(out.weights == expected)
        } else {
            for (a, b) in zip(out.weights.blocks[2].fc1.weight.data, model.weights.blocks[2].fc1.weight.data) {
                #expect(abs(a - b) <= 1e-3 * abs(b) + 1e-7)
            }
        }
        return source.notes
    }

    @Test(arguments: ["teacher", "student", "bare"])
    func dinoCheckpointLayouts(_ layout: String) throws {
        let sd = try stateDict(prefix: layout == "bare" ? "" : "backbone.", half: false)
        let dinoHead: [(String, TorchCheckpointFixture.Value)] = [
            ("head.last_layer.weight_g", .tensor(.init(key: "g", storage: .f32([1, 2]), shape: [2, 1]))),
        ]
        let root: TorchCheckpointFixture.Value = layout == "bare"
            ? .ordered(sd)
            : .dict([(layout, .ordered(sd + dinoHead)), ("epoch", .int(200)),
                     ("args", .namespace([("arch", .string("vit_small")), ("patch_size", .int(8))]))])
        let notes = try importAndCompare(try write(root, name: "ckpt-\(layout).pth"), exact: true)
        #expect(notes.contains { $0.contains(layout == "bare" ? "bare" : "'\(layout)'") }, "\(notes)")
    }

    @Test func moduleAndBackbonePrefixesAndHalfPrecision() throws {
        let sd = try stateDict(prefix: "module.backbone.", half: true)
        _ = try importAndCompare(try write(.dict([("teacher", .ordered(sd))]), name: "half.pth"), exact: false)
    }

    @Test func anIncompleteBackboneIsRefused() throws {
        let sd = try stateDict(prefix: "", half: false).filter { $0.0 != "blocks.1.norm2.bias" }
        let path = try write(.ordered(sd), name: "partial.pth")
        #expect {
            let s = try ImportSources.backbone(path)
            _ = try ModelAssembler.write(backbone: s.backbone, head: .zero(classes: 4), options: ImportOptions(),
                                         provenance: "t", to: dir + "/never.safetensors")
        } throws: { "\($0)".contains("blocks.1.norm2.bias") }
    }

    /// The authors' released classifier head (reference §2), imported onto a ViT-S-shaped backbone.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: AuthorsHead.path), "../shared/models is absent"))
    func authorsHeadImportsWithItsFingerprints() throws {
        let backbone = RandomModel.make(patchSize: 8, dim: 384, depth: 4, numHeads: 6, numClasses: 4, gridSize: 4, seed: 9)
        let src = dir + "/vits-like.safetensors"
        try ModelFile.save(backbone, to: src)
        let source = try ImportSources.backbone(src)
        let head = try ImportSources.head(AuthorsHead.path)
        let out = try ModelAssembler.write(backbone: source.backbone, head: head, options: ImportOptions(),
                                           provenance: "test", to: dir + "/authors.safetensors")
        let w = out.weights.head
        #expect(w.weight.rows == 4 && w.weight.cols == 1536)
        let bias: [Float] = [1.7198456e-3, -1.4859459e-3, -1.2653098e-3, -9.0267504e-6]
        for (a, b) in zip(w.bias, bias) { #expect(abs(a - b) <= 1e-6 * max(abs(b), 1e-3)) }
        let firstRow: [Float] = [0.010222795, 0.012805703, 0.003908378, 0.023951674]
        for j in 0..<4 { #expect(abs(w.weight[0, j] - firstRow[j]) < 1e-8) }
        #expect(abs(w.weight[3, 1535] - 0.0111854) < 1e-6)
        let sum = w.weight.data.reduce(0.0) { $0 + Double($1) }, abs1 = w.weight.data.reduce(0.0) { $0 + Double(abs($1)) }
        #expect(abs(sum - 0.55796336) < 1e-5 && abs(abs1 - 62.37516) < 1e-3)
        #expect(out.config.labels == ViTConfig.bddActions)
        #expect(out.config.provenance?.contains("snna-authors-head.pth.tar") == true)
    }
}

enum AuthorsHead {
    static let path: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/models/snna-authors-head.pth.tar").path
}
