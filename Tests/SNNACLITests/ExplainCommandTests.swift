import Foundation
import SNNAMedia
import Testing

@Suite("snna explain")
struct ExplainCommandTests {
    @Test("--method all --json --png: the document's schema, sizes, probabilities, target, and every PNG")
    func allMethodsJSONAndPNG() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)  // 64×36
            let json = "\(dir)/out/out.json"               // parent folder does not exist yet
            let pngs = "\(dir)/maps"
            let run = try SNNA.run(["explain", "--model", model, "--image", image, "--method", "all",
                                    "--json", json, "--seed", "7", "--png", pngs], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.err.isEmpty, "\(run)")
            // The human summary on stdout: 64×36 → 56×32 (Pillow's int(32·64/36) = 56), grid 14 × 8.
            #expect(run.out.contains("input 56×32, grid 14×8, seed 7"), "\(run)")

            let doc = try ExplainDoc(path: json)
            let r = doc.root
            #expect(Set(r.keys) == ["model", "image", "input_size", "grid", "labels", "logits", "probabilities",
                                    "target", "target_label", "seed", "options", "methods"],
                    "keys: \(r.keys.sorted())")
            let modelInfo = try #require(r["model"] as? [String: Any])
            #expect(Set(modelInfo.keys) == ["name", "provenance"], "\(modelInfo)")
            #expect((modelInfo["name"] as? String)?.isEmpty == false)
            #expect((modelInfo["provenance"] as? String)?.contains("--seed 3") == true, "\(modelInfo)")
            #expect(r["image"] as? String == image)

            #expect(doc.inputSize == [32, 56], "input_size \(String(describing: r["input_size"]))")
            #expect(doc.grid == [8, 14], "grid \(String(describing: r["grid"]))")
            #expect(r["labels"] as? [String] == Fixtures.labels)

            let logits = try #require(ExplainDoc.numbers(r["logits"]), "logits are not all numbers")
            let probabilities = try #require(ExplainDoc.numbers(r["probabilities"]), "probabilities are not all numbers")
            #expect(logits.count == 4)
            #expect(probabilities.count == 4)
            #expect(logits.allSatisfy { $0.isFinite })
            for (z, p) in zip(logits, probabilities) {
                #expect(abs(p - 1 / (1 + exp(-z))) <= 1e-6, "p \(p) is not sigmoid(\(z))")
            }
            var argmax = 0
            for i in logits.indices where logits[i] > logits[argmax] { argmax = i }
            #expect(doc.target == argmax, "target \(String(describing: doc.target)), logits \(logits)")
            #expect(doc.targetLabel == Fixtures.labels[argmax])
            #expect(doc.seed == 7)

            let options = doc.options
            #expect(Set(options.keys) == ["samples", "steps", "sigma_fraction", "value_norm"], "\(options)")
            #expect(options["samples"] as? [String: Int] == ["snna": 3, "smoothgrad": 25], "\(options)")
            #expect((options["steps"] as? NSNumber)?.intValue == 20)
            #expect(abs(((options["sigma_fraction"] as? NSNumber)?.doubleValue ?? -1) - 0.15) < 1e-6, "\(options)")
            #expect(options["value_norm"] as? String == "row")

            #expect(Set(doc.methods.keys) == Set(allMethods), "methods: \(doc.methods.keys.sorted())")
            for method in allMethods {
                let values = try #require(doc.map(method), "\(method) is not a list of numbers")
                #expect(values.count == 8 * 14, "\(method) has \(values.count) values")
                #expect(values.allSatisfy { $0.isFinite }, "\(method) has non-finite values")
                #expect(Set(values).count > 1, "\(method) is a constant map")
            }

            var names = try FileManager.default.contentsOfDirectory(atPath: pngs).filter { !$0.hasPrefix(".") }
            names.sort()
            let expectedNames = allMethods.flatMap { ["\($0).png", "\($0)_heatmap.png"] }.sorted()
            #expect(names == expectedNames, "png folder holds \(names)")
            for name in expectedNames {
                let decoded = try ImageDecoder.decode(path: "\(pngs)/\(name)")
                #expect(decoded.width == 56 && decoded.height == 32, "\(name) is \(decoded.width)×\(decoded.height)")
            }
            // The overlay is the photo blended with the heat map, so it differs from the bare heat map.
            let overlay = try ImageDecoder.decode(path: "\(pngs)/snna.png")
            let bare = try ImageDecoder.decode(path: "\(pngs)/snna_heatmap.png")
            #expect(overlay.pixels != bare.pixels)
        }
    }

    @Test("the same seed reproduces the noisy maps; another seed changes them; σ = 0 and noiseless methods ignore it")
    func reproducibility() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let methods = ["--method", "snna,smoothgrad,normatt,genericatt", "--samples", "4"]
            let a = try explainJSON(model: model, image: image, in: dir, methods + ["--seed", "7"])
            let b = try explainJSON(model: model, image: image, in: dir, methods + ["--seed", "7"])
            let c = try explainJSON(model: model, image: image, in: dir, methods + ["--seed", "8"])
            #expect(a.seed == 7 && c.seed == 8)
            for name in ["snna", "smoothgrad", "normatt", "genericatt"] {
                #expect(a.map(name) != nil && a.map(name) == b.map(name), "\(name) differs for the same seed")
            }
            #expect(a.map("snna") != c.map("snna"), "snna ignores the seed")
            #expect(a.map("smoothgrad") != c.map("smoothgrad"), "smoothgrad ignores the seed")
            #expect(a.map("normatt") == c.map("normatt"), "normatt depends on the seed")
            #expect(a.map("genericatt") == c.map("genericatt"), "genericatt depends on the seed")
            #expect(a.logits == c.logits, "the clean prediction depends on the seed")

            let quiet = ["--method", "snna", "--sigma-fraction", "0"]
            let q1 = try explainJSON(model: model, image: image, in: dir, quiet + ["--seed", "1"])
            let q2 = try explainJSON(model: model, image: image, in: dir, quiet + ["--seed", "2"])
            #expect(q1.map("snna") != nil && q1.map("snna") == q2.map("snna"), "σ = 0 still depends on the seed")
            #expect((q1.options["sigma_fraction"] as? NSNumber)?.doubleValue == 0)

            // Without --seed a seed is drawn and recorded; replaying it reproduces the map.
            let drawn = try explainJSON(model: model, image: image, in: dir, ["--method", "snna"])
            let seed = try #require(drawn.seed)
            let replay = try explainJSON(model: model, image: image, in: dir, ["--method", "snna", "--seed", String(seed)])
            #expect(drawn.map("snna") == replay.map("snna"), "replaying the recorded seed \(seed) differs")
            let drawnAgain = try explainJSON(model: model, image: image, in: dir, ["--method", "snna"])
            #expect(drawnAgain.seed != nil && drawnAgain.seed != seed, "two runs without --seed drew the same seed \(seed)")
        }
    }

    @Test("--class by label and by index selects the explained class; --json - writes only JSON to stdout")
    func classSelectionAndStdout() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let methods = ["--method", "rawatt,gradient,normatt", "--seed", "3"]
            let base = try explainJSON(model: model, image: image, in: dir, methods)
            let argmax = try #require(base.target)

            // Pick classes that are not the argmax, so the default cannot pass by accident.
            let byLabelIndex = (argmax + 1) % 4, byNumberIndex = (argmax + 2) % 4
            let byLabel = try explainJSON(model: model, image: image, in: dir,
                                          methods + ["--class", Fixtures.labels[byLabelIndex]])
            #expect(byLabel.target == byLabelIndex)
            #expect(byLabel.targetLabel == Fixtures.labels[byLabelIndex])
            let byNumber = try explainJSON(model: model, image: image, in: dir, methods + ["--class", String(byNumberIndex)])
            #expect(byNumber.target == byNumberIndex)
            #expect(byNumber.targetLabel == Fixtures.labels[byNumberIndex])
            // The explained class changes class-specific maps only; the prediction stays.
            #expect(byNumber.logits == base.logits)
            #expect(byNumber.map("rawatt") == base.map("rawatt"), "rawatt is not class-specific")
            #expect(byNumber.map("gradient") != base.map("gradient"), "gradient ignores --class")
            #expect(byNumber.map("normatt") != base.map("normatt"), "normatt ignores --class")
            // Naming the argmax explicitly is the same as the default.
            let explicit = try explainJSON(model: model, image: image, in: dir, methods + ["--class", String(argmax)])
            #expect(explicit.map("gradient") == base.map("gradient"))

            // --json - : stdout is exactly one JSON document, byte-identical to what --json FILE writes.
            let file = "\(dir)/same.json"
            let toFile = try SNNA.run(["explain", "--model", model, "--image", image, "--json", file] + methods,
                                      in: dir)
            #expect(toFile.status == 0, "\(toFile)")
            let toStdout = try SNNA.run(["explain", "--model", model, "--image", image, "--json", "-"] + methods,
                                        in: dir)
            #expect(toStdout.status == 0, "\(toStdout)")
            #expect(toStdout.err.isEmpty, "\(toStdout)")
            let parsed = try ExplainDoc(data: toStdout.stdout)  // fails if anything but JSON is on stdout
            #expect(parsed.target == argmax)
            #expect(toStdout.stdout == (try Data(contentsOf: URL(fileURLWithPath: file))),
                    "stdout JSON differs from the file JSON")
            #expect(!fileExists("\(dir)/-"), "--json - created a file named '-'")
        }
    }

    @Test("--value-norm column gives a different normatt than row, and is recorded")
    func valueNormColumn() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let methods = ["--method", "normatt,snna,genericatt", "--seed", "5"]
            let row = try explainJSON(model: model, image: image, in: dir, methods + ["--value-norm", "row"])
            let column = try explainJSON(model: model, image: image, in: dir, methods + ["--value-norm", "column"])
            let defaulted = try explainJSON(model: model, image: image, in: dir, methods)
            #expect(row.options["value_norm"] as? String == "row")
            #expect(column.options["value_norm"] as? String == "column")
            #expect(row.map("normatt") != nil && column.map("normatt") != nil)
            #expect(row.map("normatt") != column.map("normatt"), "--value-norm column has no effect on normatt")
            #expect(row.map("snna") != column.map("snna"), "--value-norm column has no effect on snna")
            #expect(row.map("genericatt") == column.map("genericatt"), "--value-norm changes genericatt")
            #expect(defaulted.map("normatt") == row.map("normatt"), "the default is not row")
        }
    }

    @Test("a JPEG made by ffmpeg is decoded, resized and cropped like a PNG",
          .enabled(if: findOnPath("ffmpeg") != nil, "ffmpeg is not on PATH"))
    func ffmpegJPEG() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let jpeg = "\(dir)/test.jpg"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(findOnPath("ffmpeg")))
            process.arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=90x50:rate=1", "-frames:v", "1",
                                 jpeg]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0 && fileExists(jpeg), "ffmpeg could not make a JPEG")
            // 90×50 → int(32·90/50) = 57 × 32 → cropped to 56 × 32.
            let doc = try explainJSON(model: model, image: jpeg, in: dir,
                                      ["--method", "rollout", "--seed", "1", "--png", "\(dir)/png"])
            #expect(doc.inputSize == [32, 56])
            #expect(doc.grid == [8, 14])
            #expect(doc.map("rollout")?.count == 112)
            let overlay = try ImageDecoder.decode(path: "\(dir)/png/rollout.png")
            #expect(overlay.width == 56 && overlay.height == 32)
        }
    }
}
