import Foundation
import Testing
@testable import SNNAModelImport

typealias Fx = TorchCheckpointFixture

@Suite struct TorchCheckpointTests {
    @Test(arguments: [false, true]) func fixtureRoundTrip(zip64: Bool) throws {
        let bytes = Fx.checkpoint(Fx.sample(), top: zip64 ? "dino_checkpoint" : "archive", zip64: zip64)
        let ckpt = try TorchCheckpoint.open(bytes: bytes, label: "fixture.pth")
        #expect(ckpt.topFolder == (zip64 ? "dino_checkpoint" : "archive"))
        #expect(ckpt.version == "3")
        let root = ckpt.root
        #expect(root["epoch"] == .int(100))
        #expect(root["best_acc"] == .float(72.35502439096155))

        let teacher = try #require(TorchCheckpoint.subDict(root, key: "teacher"))
        let sd = TorchCheckpoint.stateDict(root, path: "teacher")
        #expect(sd.map(\.0) == ["backbone.cls_token", "backbone.blocks.0.attn.qkv.weight", "backbone.blocks.0.attn.qkv.bias",
                                "backbone.sliced", "backbone.transposed", "backbone.half", "head.scalar"])
        #expect(TorchCheckpoint.stateDict(teacher).count == 7)
        let w = try #require(teacher["backbone.blocks.0.attn.qkv.weight"]?.tensorValue)
        #expect(w == TorchTensor(shape: [3, 4], values: (0 ..< 12).map { Float($0) * 0.5 - 1 }))
        #expect(teacher["backbone.blocks.0.attn.qkv.bias"]?.tensorValue == TorchTensor(shape: [3], values: [0.25, -0.125, 3]))
        #expect(teacher["backbone.cls_token"]?.tensorValue?.shape == [1, 1, 4])
        // Storage offset 2 into [9, 9, 1, 2, 3, 4, 9, 9].
        #expect(teacher["backbone.sliced"]?.tensorValue == TorchTensor(shape: [2, 2], values: [1, 2, 3, 4]))
        // Transpose of [[1, 2, 3], [4, 5, 6]].
        #expect(teacher["backbone.transposed"]?.tensorValue == TorchTensor(shape: [3, 2], values: [1, 4, 2, 5, 3, 6]))
        // float16 widened exactly: 1, -2, 65504, 2^-24 (subnormal), -2^-14, 0x3555.
        let h = try #require(teacher["backbone.half"]?.tensorValue)
        #expect(h.dtype == .float16 && h.shape == [2, 3])
        #expect(h.values == [1, -2, 65504, 0x1p-24, -0x1p-14, 0.333251953125])
        #expect(teacher["head.scalar"]?.tensorValue == TorchTensor(shape: [], values: [7]))
        // Parameter wrapper and a storage shared with the teacher.
        #expect(TorchCheckpoint.stateDict(root, path: "student").first?.1.values == [0.5, 1.5, -2.5, 4])
        // float64 storage narrowed to Float; nested plain dicts.
        let center = try #require(root["dino_loss"]?["center"]?.tensorValue)
        #expect(center.dtype == .float64 && center.values == [Float(0.1), -3.75] && center.shape == [1, 2])
        #expect(root["fp16_scaler"]?["growth_tracker"] == .int(1_234_567))
        // The argparse.Namespace stays opaque data.
        guard case .object(let cls, let args, let state) = try #require(root["args"]) else {
            Issue.record("args is not opaque"); return
        }
        #expect(cls == "argparse.Namespace" && args.isEmpty)
        #expect(state["arch"] == .string("vit_small"))
        #expect(state["patch_size"] == .int(8) && state["lr"] == .float(0.0005) && state["use_fp16"] == .bool(true))
        #expect(state["seed"] == .int(-1) && state["none"] == PickleValue.none)
        #expect(state["crops"] == .list([.float(0.4), .float(1.0)]))
        #expect(TorchCheckpoint.stateDict(root, path: "nope/x").isEmpty)
    }

    @Test func otherDtypesAndByteOrder() throws {
        let root: Fx.Value = .ordered([
            ("bf", .tensor(Fx.Tensor(key: "a", storage: .bf16([0x3F80, 0xC040, 0x0001]), shape: [3]))),
            ("i", .tensor(Fx.Tensor(key: "b", storage: .i64([-5, 0, 1 << 20]), shape: [3]))),
            ("empty", .tensor(Fx.Tensor(key: "c", storage: .f32([]), shape: [0, 4]))),
            // A 3-D permuted view: storage (2, 3, 2) row-major viewed as (3, 2, 2) with strides (2, 6, 1).
            ("perm", .tensor(Fx.Tensor(key: "d", storage: .f32((0 ..< 12).map(Float.init)), offset: 0, shape: [3, 2, 2], stride: [2, 6, 1]))),
        ])
        let v = try TorchCheckpoint.load(bytes: Fx.checkpoint(root, byteorder: "little"))
        #expect(v["bf"]?.tensorValue?.values == [1, -3, Float(bitPattern: 0x0001_0000)])
        #expect(v["i"]?.tensorValue == TorchTensor(shape: [3], values: [-5, 0, 1_048_576], dtype: .int64))
        #expect(v["empty"]?.tensorValue == TorchTensor(shape: [0, 4], values: []))
        #expect(v["perm"]?.tensorValue?.values == [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11])
        expectImportError("unsupported byte order 'big'") { _ = try TorchCheckpoint.load(bytes: Fx.checkpoint(root, byteorder: "big")) }
    }

    @Test func loadsFromAPath() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("snna-torch-\(getpid()).pth")
        try Data(Fx.checkpoint(Fx.sample(), top: "snna-torch")).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let v = try TorchCheckpoint.load(path: url.path)
        #expect(v["epoch"] == .int(100))
        expectImportError("cannot open file") { _ = try TorchCheckpoint.load(path: url.path + ".missing") }
    }

    // MARK: the authors' classifier head (reference §2)

    static let authorsHead = "/work/shared/models/snna-authors-head.pth.tar"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: authorsHead))) func authorsHeadFingerprints() throws {
        let ckpt = try TorchCheckpoint.open(path: Self.authorsHead)
        #expect(ckpt.topFolder == "archive" && ckpt.version == "3")
        let root = ckpt.root
        #expect(root["epoch"] == .int(100))
        #expect(root["best_acc"] == .float(72.35502439096155))
        let sd = TorchCheckpoint.stateDict(root, path: "state_dict")
        #expect(sd.map(\.0) == ["module.linear.weight", "module.linear.bias"])
        let w = try #require(sd.first?.1), b = try #require(sd.last?.1)
        #expect(w.shape == [4, 1536] && b.shape == [4] && w.dtype == .float32)

        func close(_ a: [Float], _ e: [Double], rel: Double = 1e-6, abs: Double = 1e-9, _ what: String) {
            #expect(a.count == e.count, "\(what)")
            for (x, y) in zip(a, e) { #expect(Swift.abs(Double(x) - y) <= Swift.max(abs, rel * Swift.abs(y)), "\(what): \(x) vs \(y)") }
        }
        close(b.values, [1.7198456e-3, -1.4859459e-3, -1.2653098e-3, -9.0267504e-6], "bias")
        close((0 ..< 4).map { w.values[$0 * 1536] }, [0.010222795, -0.000459591, -0.002687393, 0.007074728], "W[:,0]")
        close(Array(w.values[0 ..< 4]), [0.010222795, 0.012805703, 0.003908378, 0.023951674], "W[0,0:4]")
        close([w.values[3 * 1536 + 1535]], [0.0111854], rel: 1e-5, "W[3,1535]")
        let sum = w.values.reduce(0.0) { $0 + Double($1) }, sumAbs = w.values.reduce(0.0) { $0 + Swift.abs(Double($1)) }
        #expect(Swift.abs(sum - 0.55796336) <= 1e-5 * 0.55796336, "ΣW = \(sum)")
        #expect(Swift.abs(sumAbs - 62.37516) <= 1e-5 * 62.37516, "Σ|W| = \(sumAbs)")
        let norms = (0 ..< 4).map { r in w.values[(r * 1536) ..< ((r + 1) * 1536)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        for (n, e) in zip(norms, [0.53588, 0.53593, 0.47142, 0.45693]) { #expect(Swift.abs(n - e) < 1e-5, "row norm \(n) vs \(e)") }
        #expect(Swift.abs(Double(w.values.min()!) - -0.0575841) < 1e-7 && Swift.abs(Double(w.values.max()!) - 0.0515362) < 1e-7)
        // Optimizer state: momentum buffers with the parameter shapes; one param group with initial_lr 0.00025.
        let state = try #require(root["optimizer"]?["state"]?.dictEntries)
        #expect(state.map(\.key) == [.int(0), .int(1)])
        #expect(state[0].value["momentum_buffer"]?.tensorValue?.shape == [4, 1536])
        #expect(state[1].value["momentum_buffer"]?.tensorValue?.shape == [4])
        let group = try #require(root["optimizer"]?["param_groups"]?.elements?.first)
        #expect(group["initial_lr"] == .float(0.00025) && group["momentum"] == .float(0.9) && group["nesterov"] == .bool(false))
        #expect(root["scheduler"]?["T_max"] == .int(100))
    }

    // MARK: failures

    @Test func rejectsLegacyAndNonZipFiles() {
        let legacy: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02]
        expectImportError("old.pt: legacy (pre-1.6) torch file: re-save it with torch ≥ 1.6") {
            _ = try TorchCheckpoint.load(bytes: legacy, label: "old.pt")
        }
        expectImportError("x.bin: not a PyTorch zip checkpoint") { _ = try TorchCheckpoint.load(bytes: Array("hello world".utf8), label: "x.bin") }
        expectImportError("not a PyTorch zip checkpoint") { _ = try TorchCheckpoint.load(bytes: []) }
        expectImportError("no <top>/data.pkl") {
            _ = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "a/other.pkl", data: [0x80, 2, 0x4e, 0x2e])]))
        }
        expectImportError("several top folders") {
            _ = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "a/data.pkl", data: [0x4e, 0x2e]), ZI(name: "b/data.pkl", data: [0x4e, 0x2e])]))
        }
    }

    @Test func rejectsCompressedAndCorruptEntries() {
        let (pkl, _) = Fx.pickle(.int(1))
        expectImportError("'archive/data.pkl' uses compression method 8") {
            _ = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "archive/data.pkl", data: pkl, method: 8)]))
        }
        expectImportError("CRC mismatch in zip entry 'archive/data.pkl'") {
            _ = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "archive/data.pkl", data: pkl, crc: 1)]))
        }
        expectImportError("duplicate zip entry name 'archive/data.pkl'") {
            _ = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "archive/data.pkl", data: pkl), ZI(name: "archive/data.pkl", data: pkl)]))
        }
        let full = Fx.checkpoint(Fx.sample())
        for cut in [10, 100, full.count / 3, full.count / 2, full.count - 30, full.count - 1] {
            expectImportError("cut.pth: ") { _ = try TorchCheckpoint.load(bytes: Array(full[..<cut]), label: "cut.pth") }
        }
    }

    @Test func rejectsBadPicklesWithoutRunningThem() throws {
        let bad = Fx.zipArchive([ZI(name: "archive/data.pkl", data: [0x80, 2, 0x7d, 0xfe, 0x2e])])
        expectImportError("ck.pth: archive/data.pkl: unknown pickle opcode 0xfe at offset 3") { _ = try TorchCheckpoint.load(bytes: bad, label: "ck.pth") }
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("snna-torch-pwned-\(getpid())").path
        let evil = pk([0x80, 2, 0x7d, 0x28], binunicode("x"), globalOp("os", "system"), binunicode("touch \(marker)"), [0x85, 0x52, 0x75, 0x2e])
        let v = try TorchCheckpoint.load(bytes: Fx.zipArchive([ZI(name: "archive/data.pkl", data: evil)]))
        #expect(v["x"] == .object("os.system", args: [.string("touch \(marker)")], state: .none))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func rejectsInconsistentTensors() {
        func load(_ t: Fx.Tensor, storageBytes: ((String, [UInt8]) -> [UInt8])? = nil) throws {
            _ = try TorchCheckpoint.load(bytes: Fx.checkpoint(.ordered([("w", .tensor(t))]), storageBytes: storageBytes), label: "t.pth")
        }
        let s12: Fx.Storage = .f32((0 ..< 12).map(Float.init))
        // The view needs more elements than the storage has.
        expectImportError("needs 16 elements but storage 'k' has 12") { try load(Fx.Tensor(key: "k", storage: s12, shape: [4, 4])) }
        expectImportError("needs 13 elements") { try load(Fx.Tensor(key: "k", storage: s12, offset: 1, shape: [3, 4])) }
        expectImportError("needs 22 elements") { try load(Fx.Tensor(key: "k", storage: s12, shape: [2, 2], stride: [20, 1])) }
        // Storage entry smaller than numel × element size.
        expectImportError("holds 40 bytes but storage 'k' needs 12 × 4 = 48") {
            try load(Fx.Tensor(key: "k", storage: s12, shape: [12]), storageBytes: { _, b in Array(b.prefix(40)) })
        }
        expectImportError("holds 48 bytes but storage 'k' needs 100 × 4") { try load(Fx.Tensor(key: "k", storage: s12, shape: [12], declaredNumel: 100)) }
        // Absurd shapes: the element count overflows, or the span does.
        expectImportError("absurd shape") { try load(Fx.Tensor(key: "k", storage: s12, shape: [1 << 40, 1 << 40, 1 << 40], stride: [0, 0, 0])) }
        expectImportError("absurd shape") { try load(Fx.Tensor(key: "k", storage: s12, shape: [1 << 31, 2], stride: [1 << 40, 1])) }
        // A broadcast (stride 0) view larger than the file allows materializing.
        expectImportError("more elements than the file allows") { try load(Fx.Tensor(key: "k", storage: s12, shape: [1 << 30], stride: [0])) }
        expectImportError("has no zip entry") {
            _ = try TorchCheckpoint.load(bytes: Fx.checkpoint(.ordered([("w", .tensor(Fx.Tensor(key: "k", storage: s12, shape: [12])))]),
                                                              storageBytes: nil).filterEntry("archive/data/k"))
        }
    }
}

extension Array where Element == UInt8 {
    /// Re-zips a fixture checkpoint without one entry.
    func filterEntry(_ name: String) -> [UInt8] {
        guard let z = try? ZipArchive(bytes: self) else { return self }
        return Fx.zipArchive(z.names.filter { $0 != name }.map { ZI(name: $0, data: (try? z.data($0)) ?? []) })
    }
}
