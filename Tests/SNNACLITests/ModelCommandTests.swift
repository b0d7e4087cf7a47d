import Foundation
import SNNAModel
import Testing

/// Parameters of a ViT as `snna model random` builds it, from the shapes alone (independent of the engine's count).
func expectedParameterCount(patch p: Int, dim d: Int, depth l: Int, classes c: Int, grid g: Int, mlpRatio: Int = 4,
                            nLast: Int, layerScale: Bool = false) -> Int {
    let m = mlpRatio * d
    let cls = d
    let pos = (1 + g * g) * d
    let patchEmbed = d * 3 * p * p + d
    let block = 4 * d                 // norm1 + norm2 (γ, β)
        + 3 * d * d + 3 * d            // qkv
        + d * d + d                    // proj
        + m * d + m                    // fc1
        + d * m + d                    // fc2
        + (layerScale ? 2 * d : 0)     // ls1, ls2
    let finalNorm = 2 * d
    let head = c * nLast * d + c
    return cls + pos + patchEmbed + l * block + finalNorm + head
}

/// "key:   value" lines of `snna model inspect`.
func inspectFields(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = line[..<colon].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        fields[key] = value
    }
    return fields
}

@Suite("snna model")
struct ModelCommandTests {
    @Test("model random then model inspect reports the architecture, parameter count, labels and provenance")
    func randomThenInspect() throws {
        try withTemporaryFolder { dir in
            let model = "\(dir)/m.safetensors"
            let made = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments
                                    + ["--labels", "go,stop,left,right", "--seed", "5", "-o", model], in: dir)
            #expect(made.status == 0, "\(made)")
            #expect(made.err.isEmpty, "\(made)")
            #expect(fileExists(model))

            let expected = expectedParameterCount(patch: 4, dim: 16, depth: 3, classes: 4, grid: 4, nLast: 3)
            #expect(expected == 11140)  // guards the formula itself
            #expect(made.out.contains("\(expected) parameters"), "\(made)")

            let inspect = try SNNA.run(["model", "inspect", model], in: dir)
            #expect(inspect.status == 0, "\(inspect)")
            #expect(inspect.err.isEmpty, "\(inspect)")
            let f = inspectFields(inspect.out)
            let arch = try #require(f["architecture"], "no architecture line: \(inspect)")
            #expect(arch.contains("patch 4"), "\(arch)")
            #expect(arch.contains("width 16"), "\(arch)")
            #expect(arch.contains("depth 3"), "\(arch)")
            #expect(arch.contains("2 heads"), "\(arch)")
            #expect(arch.contains("MLP 64"), "\(arch)")
            #expect(!arch.contains("LayerScale"), "\(arch)")
            #expect(f["parameters"] == String(expected), "\(inspect)")
            #expect(f["labels"] == "go, stop, left, right", "\(inspect)")
            #expect(f["input short side"] == "32", "\(inspect)")
            #expect(f["pretraining grid"]?.hasPrefix("4×4 (16 px)") == true, "\(inspect)")
            #expect(f["head"]?.hasPrefix("4 classes") == true, "\(inspect)")
            #expect(f["head"]?.contains("last 3 blocks") == true, "\(inspect)")
            let provenance = try #require(f["provenance"], "\(inspect)")
            #expect(provenance.contains("--seed 5"), "\(provenance)")

            // The file agrees with what inspect printed.
            let loaded = try ModelFile.load(path: model)
            #expect(loaded.weights.parameterCount == expected)
            #expect(loaded.config.labels == ["go", "stop", "left", "right"])
        }
    }

    @Test("LayerScale and --n-last-blocks change the architecture and the count as the shapes say")
    func layerScaleAndNLast() throws {
        try withTemporaryFolder { dir in
            let model = "\(dir)/ls.safetensors"
            let made = try SNNA.run(["model", "random", "--patch", "4", "--dim", "16", "--depth", "3", "--heads", "2",
                                     "--classes", "3", "--grid", "4", "--input-short-side", "32", "--layer-scale",
                                     "--n-last-blocks", "2", "--interpolation", "size", "--seed", "9", "-o", model],
                                    in: dir)
            #expect(made.status == 0, "\(made)")
            let inspect = try SNNA.run(["model", "inspect", model], in: dir)
            #expect(inspect.status == 0, "\(inspect)")
            let f = inspectFields(inspect.out)
            let expected = expectedParameterCount(patch: 4, dim: 16, depth: 3, classes: 3, grid: 4, nLast: 2,
                                                  layerScale: true)
            #expect(f["parameters"] == String(expected), "\(inspect)")
            #expect(f["architecture"]?.contains("LayerScale") == true, "\(inspect)")
            #expect(f["head"]?.contains("last 2 blocks") == true, "\(inspect)")
            #expect(f["pretraining grid"]?.contains("interpolation size") == true, "\(inspect)")
            // Three classes and no --labels: generic names.
            #expect(f["labels"] == "class_0, class_1, class_2", "\(inspect)")
            #expect(f["provenance"]?.contains("--seed 9") == true, "\(inspect)")
        }
    }

    @Test("model random is reproducible: same seed → byte-identical files, different seed → different files")
    func reproducibleFiles() throws {
        try withTemporaryFolder { dir in
            func make(_ name: String, seed: Int) throws -> Data {
                let path = "\(dir)/\(name)"
                let run = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments
                                       + ["--seed", String(seed), "-o", path], in: dir)
                #expect(run.status == 0, "\(run)")
                return try Data(contentsOf: URL(fileURLWithPath: path))
            }
            let a = try make("a.safetensors", seed: 11)
            let b = try make("b.safetensors", seed: 11)
            let c = try make("c.safetensors", seed: 12)
            #expect(!a.isEmpty)
            #expect(a == b, "same seed gave different bytes")
            #expect(a != c, "different seeds gave the same bytes")
            #expect(a.count == c.count, "the seed should not change the layout, only the values")
        }
    }

    @Test("model inspect and model random report bad input as one error line with exit status 1")
    func modelErrors() throws {
        try withTemporaryFolder { dir in
            let missing = "\(dir)/absent.safetensors"
            let r1 = try SNNA.run(["model", "inspect", missing], in: dir)
            #expect(r1.status == 1, "\(r1)")
            #expect(r1.errLines.count == 1 && r1.err.hasPrefix("snna: error:"), "\(r1)")
            #expect(r1.err.contains(missing), "\(r1)")

            let out = "\(dir)/bad.safetensors"
            let r2 = try SNNA.run(["model", "random", "--dim", "10", "--heads", "3", "-o", out], in: dir)
            #expect(r2.status == 1, "\(r2)")
            #expect(r2.errLines.count == 1 && r2.err.hasPrefix("snna: error:"), "\(r2)")
            #expect(r2.err.contains("--heads"), "\(r2)")
            #expect(!fileExists(out))

            let r3 = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--labels", "a,b", "-o", out],
                                  in: dir)
            #expect(r3.status == 1, "\(r3)")
            #expect(r3.errLines.count == 1 && r3.err.hasPrefix("snna: error:") && r3.err.contains("--labels"), "\(r3)")
            #expect(!fileExists(out))
        }
    }
}
