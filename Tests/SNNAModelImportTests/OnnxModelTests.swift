import Foundation
import SNNAKernels
import Testing
@testable import SNNAModelImport

private func parse(_ bytes: [UInt8]) throws -> OnnxModel { try OnnxModel(bytes: bytes, source: "t.onnx") }

private func expectImportError(_ bytes: [UInt8], containing parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try parse(bytes)
        Issue.record("expected an ImportError containing \(parts)", sourceLocation: sourceLocation)
    } catch let e as ImportError {
        for p in parts {
            #expect(e.message.contains(p), "\(e.message) should contain \(p)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
    }
}

private func oneTensorModel(_ tensorBytes: [UInt8]) -> [UInt8] {
    OnnxFixture.model(nodes: [], initializers: [tensorBytes])
}

@Suite struct OnnxModelTests {
    @Test func readsNodesInitializersAndEveryFloatStorage() throws {
        let v: [Float] = [1, -2, 0.5, 0.25, -0.125, 3]
        let bytes = OnnxFixture.model(
            nodes: [OnnxFixture.node("/a/MatMul", "MatMul", ["x", "w"], ["y"])],
            initializers: [
                OnnxFixture.tensor("raw", [2, 3], v, storage: .raw),
                OnnxFixture.tensor("packed", [3, 2], v, storage: .packed),
                OnnxFixture.tensor("unpacked", [6], v, storage: .unpacked),
                OnnxFixture.tensor("half", [1, 6], v, storage: .f16),
                OnnxFixture.tensor("double", [6, 1], v, storage: .double),
            ])
        let m = try parse(bytes)
        #expect(m.initializerNames == ["raw", "packed", "unpacked", "half", "double"])
        #expect(m.initializers["raw"] == OnnxTensor(name: "raw", shape: [2, 3], values: v))
        #expect(m.initializers["packed"]?.shape == [3, 2])
        for n in m.initializerNames { #expect(m.initializers[n]?.values == v, "\(n)") }
        #expect(m.nodes == [OnnxNode(name: "/a/MatMul", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])])
        #expect(m.graphInputs == ["input_image"])
        #expect(m.graphOutputs == ["output"])
        #expect(m.producerName == "pytorch")
    }

    @Test func rawFloat16AndBFloat16AreWidenedExactly() throws {
        var w = ProtoWriter()
        w.int(1, 2)
        w.int(2, 10)
        w.string(8, "h")
        w.message(9, [0x00, 0x3C, 0x00, 0xC0])  // 1.0, -2.0
        var b = ProtoWriter()
        b.int(1, 2)
        b.int(2, 16)
        b.string(8, "bf")
        b.message(9, [0x80, 0x3F, 0x40, 0xC0])  // 1.0, -3.0
        var i64 = ProtoWriter()
        i64.int(1, 1)
        i64.int(2, 7)
        i64.string(8, "shape_const")
        i64.message(9, [UInt8](repeating: 0, count: 8))
        let m = try parse(OnnxFixture.model(nodes: [], initializers: [w.bytes, b.bytes, i64.bytes]))
        #expect(m.initializers["h"]?.values == [1, -2])
        #expect(m.initializers["bf"]?.values == [1, -3])
        #expect(m.initializers["shape_const"] == nil)
        #expect(m.skippedInitializers == ["shape_const": 7])
    }

    @Test func malformedFilesFailWithClearMessages() {
        let valid = oneTensorModel(OnnxFixture.tensor("w", [2], [1, 2]))
        expectImportError([], containing: ["empty"])
        expectImportError(Array(valid.dropLast(6)), containing: ["t.onnx", "claims"])
        expectImportError([0x38] + [UInt8](repeating: 0xFF, count: 11), containing: ["varint"])
        expectImportError([0x38, 0xFF, 0xFF], containing: ["truncated varint"])
        expectImportError([0x3A, 0x05, 0x01], containing: ["claims 5 bytes"])
        expectImportError([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], containing: ["claims"])
        expectImportError([0x0B], containing: ["wire type 3"])
        expectImportError([0x08, 0x07], containing: ["no graph"])

        // float_data count disagreeing with dims, named.
        var t = ProtoWriter()
        t.message(1, [2, 3])
        t.int(2, 1)
        t.message(4, OnnxFixture.floatBytes([1, 2, 3, 4, 5]))
        t.string(8, "blocks.0.attn.qkv.bias")
        expectImportError(oneTensorModel(t.bytes), containing: ["'blocks.0.attn.qkv.bias'", "6 elements", "float_data has 5"])

        // raw_data too short.
        var r = ProtoWriter()
        r.message(1, [4])
        r.int(2, 1)
        r.string(8, "short")
        r.message(9, [0, 0, 0, 0])
        expectImportError(oneTensorModel(r.bytes), containing: ["'short'", "raw_data has 4"])

        // Element count overflow.
        var o = ProtoWriter()
        var dims = ProtoWriter()
        for _ in 0..<3 { dims.varint(1 << 30) }
        o.message(1, dims.bytes)
        o.int(2, 1)
        o.string(8, "huge")
        expectImportError(oneTensorModel(o.bytes), containing: ["dimension"])
        var o2 = ProtoWriter()
        var dims2 = ProtoWriter()
        for _ in 0..<4 { dims2.varint(100) }
        o2.message(1, dims2.bytes)
        o2.int(2, 1)
        o2.string(8, "big")
        expectImportError(oneTensorModel(o2.bytes), containing: ["'big'", "absurd element count"])

        // Negative dimension.
        var n = ProtoWriter()
        n.int(1, -1)
        n.int(2, 1)
        n.string(8, "neg")
        expectImportError(oneTensorModel(n.bytes), containing: ["negative dimension"])

        // Duplicate names.
        let dup = OnnxFixture.model(nodes: [], initializers: [OnnxFixture.tensor("w", [1], [1]), OnnxFixture.tensor("w", [1], [2])])
        expectImportError(dup, containing: ["duplicate initializer name 'w'"])

        // External data, by entries and by data_location.
        var e = ProtoWriter()
        e.int(1, 4)
        e.int(2, 1)
        e.string(8, "ext")
        var entry = ProtoWriter()
        entry.string(1, "location")
        entry.string(2, "weights.bin")
        e.message(13, entry.bytes)
        e.int(14, 1)
        expectImportError(oneTensorModel(e.bytes), containing: ["'ext'", "external data not supported"])

        // Both raw and typed data; unnamed initializer; invalid UTF-8 name.
        var both = ProtoWriter()
        both.int(1, 1)
        both.int(2, 1)
        both.message(4, OnnxFixture.floatBytes([1]))
        both.string(8, "both")
        both.message(9, OnnxFixture.floatBytes([1]))
        expectImportError(oneTensorModel(both.bytes), containing: ["'both'", "both raw_data and typed data"])
        expectImportError(oneTensorModel(OnnxFixture.tensor("", [1], [1])), containing: ["without a name"])
        var bad = ProtoWriter()
        bad.message(8, [0xFF, 0xFE])
        expectImportError(oneTensorModel(bad.bytes), containing: ["UTF-8"])
    }

    @Test func everyTruncationFailsCleanly() throws {
        let bytes = OnnxFixture.dinov2Export(OnnxFixture.reference())
        _ = try parse(bytes)
        var errors = 0
        for cut in 0..<bytes.count {
            do {
                _ = try OnnxViTImporter.importBackbone(try parse(Array(bytes[0..<cut])), heads: 2)
            } catch is ImportError {
                errors += 1
            }
        }
        // Only cuts after the graph (inside the trailing opset field) or none at all could import.
        #expect(errors >= bytes.count - 4)
    }

    @Test func readsAFileFromDisk() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snna-onnx-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.onnx").path
        try Data(OnnxFixture.dinov2Export(OnnxFixture.reference())).write(to: URL(fileURLWithPath: path))
        let m = try OnnxModel(path: path)
        #expect(m.source == path)
        #expect(m.initializers["backbone.embeddings.cls_token"]?.shape == [1, 1, 8])
        #expect(throws: ImportError.self) { try OnnxModel(path: dir.appendingPathComponent("missing.onnx").path) }
    }

    /// Seeded random mutations of a valid file: the reader and importer may succeed or throw ImportError, nothing else.
    @Test func seededRandomMutationsNeverCrash() throws {
        let base = OnnxFixture.dinov2Export(OnnxFixture.reference(), storage: { $0.hasSuffix(".bias") ? .packed : .raw })
        var rng = SeededRandom(seed: 20_240_601)
        var outcomes = (ok: 0, failed: 0)
        for _ in 0..<1500 {
            var b = base
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                guard !b.isEmpty else { break }
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 6 {
                case 0: b[at] ^= UInt8(1 << (rng.next() % 8))
                case 1: b[at] = UInt8(truncatingIfNeeded: rng.next())
                case 2: b.remove(at: at)
                case 3: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                case 4: b = Array(b[0..<at])
                default: b[at] = [0x00, 0x7F, 0x80, 0xFF][Int(rng.next() % 4)]
                }
            }
            do {
                let m = try parse(b)
                _ = try OnnxViTImporter.importBackbone(m, heads: rng.next() % 2 == 0 ? 2 : nil)
                outcomes.ok += 1
            } catch is ImportError {
                outcomes.failed += 1
            } catch {
                Issue.record("mutation produced \(type(of: error)): \(error)")
            }
        }
        #expect(outcomes.ok + outcomes.failed == 1500)
        #expect(outcomes.failed > 100)
    }
}
