import Foundation
import Testing
import SNNAKernels
@testable import SNNAModel

/// The `snna-vit/1` loader: round trips, and one failure per kind of malformed file, each naming the culprit.
@Suite struct ModelFileTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "snna-modelfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    let model = RandomModel.make(patchSize: 4, dim: 8, depth: 2, numHeads: 2, numClasses: 3, gridSize: 3,
                                 labels: ["go", "stop", "wait"], seed: 5)

    /// The tensors and metadata `ModelFile.save` writes, to be edited into a bad file.
    func parts(_ m: ViTModel) throws -> (tensors: [(name: String, shape: [Int], values: [Float])], meta: [String: String]) {
        let path = dir + "/parts.safetensors"
        try ModelFile.save(m, to: path)
        let file = try SafeTensorsFile(path: path)
        let tensors = try file.tensors.values.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
            .map { (name: $0.name, shape: $0.shape, values: try file.floats($0.name)) }
        return (tensors, file.metadata)
    }

    func loadError(tensors: [(name: String, shape: [Int], values: [Float])], meta: [String: String]) -> String {
        let path = dir + "/bad-\(UInt32.random(in: 0...UInt32.max)).safetensors"
        do {
            try SafeTensorsWriter.write(tensors: tensors, metadata: meta, to: path)
            _ = try ModelFile.load(path: path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func roundTripIsExact() throws {
        let path = dir + "/m.safetensors"
        var m = model
        m.config.provenance = "unit test"
        m.config.name = "tiny"
        try ModelFile.save(m, to: path)
        let loaded = try ModelFile.load(path: path)
        #expect(loaded == m)
        #expect(loaded.config.labels == ["go", "stop", "wait"])
        #expect(loaded.config.gridSize == 3 && loaded.config.mlpDim == 32 && loaded.config.patchSize == 4)
    }

    @Test func layerScaleAndSizeModeRoundTrip() throws {
        let m = RandomModel.make(patchSize: 14, dim: 12, depth: 3, numHeads: 3, numClasses: 4, gridSize: 2,
                                 nLastBlocks: 2, layerScale: true, positionalInterpolation: .size, seed: 1)
        let path = dir + "/ls.safetensors"
        try ModelFile.save(m, to: path)
        let loaded = try ModelFile.load(path: path)
        #expect(loaded == m)
        #expect(loaded.config.hasLayerScale && loaded.config.positionalInterpolation == .size && loaded.config.nLastBlocks == 2)
        #expect(loaded.config.labels == ViTConfig.bddActions)
    }

    @Test(arguments: [SafeTensorsWriter.Precision.f16, .bf16])
    func halfPrecisionFilesAreWidened(_ precision: SafeTensorsWriter.Precision) throws {
        let path = dir + "/half.safetensors"
        try ModelFile.save(model, to: path, precision: precision)
        let loaded = try ModelFile.load(path: path)
        let original = model.weights.blocks[1].fc2.weight.data, widened = loaded.weights.blocks[1].fc2.weight.data
        let rel: Float = precision == .f16 ? 1e-3 : 8e-3
        var differs = false
        for (a, b) in zip(original, widened) {
            #expect(abs(a - b) <= rel * abs(a) + 1e-7)
            differs = differs || a != b
        }
        #expect(differs, "half precision must actually round")
    }

    @Test func missingTensorIsNamed() throws {
        let (t, meta) = try parts(model)
        let e = loadError(tensors: t.filter { $0.name != "blocks.1.attn.proj.bias" }, meta: meta)
        #expect(e.contains("missing tensor 'blocks.1.attn.proj.bias'"), "\(e)")
    }

    @Test func extraTensorIsNamed() throws {
        var (t, meta) = try parts(model)
        t.append((name: "head.extra", shape: [2], values: [1, 2]))
        let e = loadError(tensors: t, meta: meta)
        #expect(e.contains("unexpected tensor 'head.extra'"), "\(e)")
        // A stray third block's tensor (blocks must be complete and contiguous).
        var (t2, meta2) = try parts(model)
        t2.append((name: "blocks.3.norm1.weight", shape: [8], values: [Float](repeating: 1, count: 8)))
        #expect(loadError(tensors: t2, meta: meta2).contains("unexpected tensor 'blocks.3.norm1.weight'"))
    }

    @Test func wrongShapeIsNamed() throws {
        var (t, meta) = try parts(model)
        let i = t.firstIndex { $0.name == "blocks.0.mlp.fc2.weight" }!
        t[i] = (name: t[i].name, shape: [32, 8], values: t[i].values)
        let e = loadError(tensors: t, meta: meta)
        #expect(e.contains("'blocks.0.mlp.fc2.weight' has shape [32, 8], expected [8, 32]"), "\(e)")
    }

    @Test func headWidthMustMatchTheSlots() throws {
        var (t, meta) = try parts(model)
        meta["n_last_blocks"] = "1"
        #expect(loadError(tensors: t, meta: meta).contains("head.weight' has width 16, expected n_last_blocks·D = 1·8 = 8"))
        let i = t.firstIndex { $0.name == "head.weight" }!
        t[i] = (name: "head.weight", shape: [3, 12], values: [Float](repeating: 0, count: 36))
        meta["n_last_blocks"] = "2"
        #expect(loadError(tensors: t, meta: meta).contains("head.weight' has width 12"))
    }

    @Test func badMetadataIsNamed() throws {
        let (t, meta) = try parts(model)
        func with(_ key: String, _ value: String?) -> String {
            var m = meta
            m[key] = value
            return loadError(tensors: t, meta: m)
        }
        #expect(with("format", nil).contains("'format' is missing"))
        #expect(with("format", "gguf").contains("'format' = 'gguf'"))
        #expect(with("num_heads", "3").contains("'num_heads' = 3 does not divide the width 8"))
        #expect(with("num_heads", "two").contains("'num_heads' = 'two' is not an integer"))
        #expect(with("num_heads", nil).contains("'num_heads' is missing"))
        #expect(with("labels", "[\"a\",\"b\"]").contains("'labels' has 2 names for 3 classes"))
        #expect(with("labels", "go,stop,wait").contains("'labels'"))
        #expect(with("labels", "[\"a\",\"a\",\"b\"]").contains("duplicate"))
        #expect(with("mean", "[0.5, 0.5]").contains("'mean'"))
        #expect(with("std", "[0.5, 0, 0.5]").contains("'std'"))
        #expect(with("layer_norm_eps", "-1").contains("'layer_norm_eps'"))
        #expect(with("pos_embed_interpolation", "bilinear").contains("'pos_embed_interpolation' = 'bilinear'"))
        #expect(with("n_last_blocks", "9").contains("'n_last_blocks'"))
        #expect(with("input_short_side", "2").contains("'input_short_side'"))
        #expect(with("input_short_side", "224") == "loaded")
    }

    @Test func nonFiniteWeightsAreRefused() throws {
        var (t, meta) = try parts(model)
        let i = t.firstIndex { $0.name == "norm.weight" }!
        var v = t[i].values
        v[3] = .nan
        t[i] = (name: t[i].name, shape: t[i].shape, values: v)
        #expect(loadError(tensors: t, meta: meta).contains("'norm.weight' contains NaN"))
    }

    @Test func truncatedAndLyingFilesFailCleanly() throws {
        let path = dir + "/ok.safetensors"
        try ModelFile.save(model, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [4, 20, bytes.count / 2, bytes.count - 1] {
            let bad = dir + "/cut\(cut).safetensors"
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: bad))
            #expect(throws: (any Error).self) { try ModelFile.load(path: bad) }
        }
        // A header claiming a tensor lies past the end of the data.
        var lying = bytes
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]) + Int(bytes[1]) << 8)], as: UTF8.self)
        let range = header.range(of: "\"data_offsets\":[0,")!
        let patched = header.replacingCharacters(in: range, with: "\"data_offsets\":[9,")
        lying.replaceSubrange(8..<(8 + header.utf8.count), with: Data(patched.utf8))
        let bad = dir + "/lying.safetensors"
        try lying.write(to: URL(fileURLWithPath: bad))
        #expect(throws: (any Error).self) { try ModelFile.load(path: bad) }
        #expect(throws: (any Error).self) { try ModelFile.load(path: dir + "/does-not-exist.safetensors") }
    }

    @Test func theEngineRefusesInconsistentModels() {
        var m = model
        m.config.numHeads = 3
        #expect(throws: EngineError.self) { try ViTEngine(model: m) }
        var m2 = model
        m2.config.labels = ["a"]
        #expect(throws: EngineError.self) { try ViTEngine(model: m2) }
    }
}

extension ModelFileTests {
    @Test func metadataJSONIsDecodedStrictly() throws {
        let (t, meta) = try parts(model)
        func with(_ key: String, _ value: String) -> String {
            var m = meta
            m[key] = value
            return loadError(tensors: t, meta: m)
        }
        #expect(with("mean", "[true, 0.5, 0.5]").contains("'mean'"))
        #expect(with("mean", "[\n 0.5,\n 0.4, 0.3 ]") == "loaded")
        #expect(with("labels", "[\"go\", 2, \"wait\"]").contains("'labels'"))
        #expect(with("input_short_side", "5000").contains("'input_short_side'"))
        #expect(with("layer_norm_eps", "1e-60").contains("'layer_norm_eps'"))
    }
}
