import Foundation
import Testing
import SNNAKernels
@testable import SNNAModel
@testable import SNNAModelImport

/// The seed corpus kept in the repository (Tests/SNNAModelImportTests/Corpus): one small valid file per reader.
/// Every file must stay readable, and seeded mutations of each must end in a value or an error — never a crash.
/// Regenerate with `SNNA_WRITE_CORPUS=1 swift test --filter CorpusTests`.
@Suite struct CorpusTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    static func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Reads bytes with the reader their extension names; throws what the reader throws.
    static func read(_ bytes: [UInt8], name: String) throws {
        switch (name as NSString).pathExtension {
        case "pth":
            _ = try TorchCheckpoint.load(bytes: bytes, label: name)
        case "pkl":
            _ = try Pickle.load(bytes, label: name, persistentLoad: { $0 })  // storages stay ids: the pickle alone
        case "onnx":
            let model = try OnnxModel(bytes: bytes, source: name)
            _ = try OnnxViTImporter.importBackbone(model, heads: nil)
        case "safetensors":
            let path = NSTemporaryDirectory() + "snna-corpus-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).safetensors"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let file = try SafeTensorsFile(path: path)
            for n in file.names { _ = try? file.floats(n) }
            _ = try ModelFile.load(path: path)
        default:
            Issue.record("corpus file \(name) has no reader")
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SNNA_WRITE_CORPUS"] == "1", "set SNNA_WRITE_CORPUS=1 to regenerate"))
    func writeCorpus() throws {
        try FileManager.default.createDirectory(atPath: Self.folder, withIntermediateDirectories: true)
        func put(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: Self.folder + "/" + name)) }
        try put("dino-checkpoint.pth", TorchCheckpointFixture.checkpoint(TorchCheckpointFixture.sample()))
        try put("dino-checkpoint.pkl", TorchCheckpointFixture.pickle(TorchCheckpointFixture.sample()).pkl)
        try put("dinov2-tiny.onnx", OnnxFixture.dinov2Export(OnnxFixture.reference()))
        let model = RandomModel.make(patchSize: 2, dim: 8, depth: 1, numHeads: 2, numClasses: 2, gridSize: 2, seed: 1)
        let path = Self.folder + "/tiny-model.safetensors"
        try ModelFile.save(model, to: path)
    }

    @Test func corpusFilesAreValid() throws {
        let files = Self.files()
        #expect(files.count >= 4, "corpus missing: \(files)")
        for name in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
            #expect(bytes.count < 64 << 10, "\(name) is too big for a seed corpus")
            do { try Self.read(bytes, name: name) } catch { Issue.record("\(name) no longer reads: \(error)") }
        }
    }

    @Test func mutatedCorpusNeverCrashes() throws {
        var rng = SeededRandom(seed: 20261127)
        for name in Self.files() {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
            var failures = 0
            for _ in 0..<250 {
                var bytes = original
                switch rng.next() % 4 {
                case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
                case 1:
                    for _ in 0..<(1 + rng.next() % 8) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 2:
                    let i = Int(rng.next() % UInt64(min(bytes.count, 256)))  // headers live at the start
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                default:
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes.insert(contentsOf: (0..<(1 + rng.next() % 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
                }
                do { try Self.read(bytes, name: name) } catch { failures += 1 }
            }
            #expect(failures > 0, "\(name): no mutation was rejected, the reader checks nothing")
        }
    }
}
