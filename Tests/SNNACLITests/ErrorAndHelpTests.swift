import Foundation
import SNNAMedia
import Testing

/// Bad inputs to `snna explain`, each with what its one error line must mention.
enum BadExplainInput: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case missingModel, randomBytesModel, textAsModel, missingImage, textFileAsImage, textFileNamedPNG, emptyImage,
         folderAsImage, unknownMethod, unknownMethodInList, unknownClassLabel, classIndexTooLarge, classIndexNegative,
         zeroSamples, zeroSteps, negativeSigma, diagonalValueNorm

    var testDescription: String { rawValue }

    /// The arguments after `explain`, and the strings stderr must contain; `dir` holds a good model and image.
    func setUp(in dir: String, model: String, image: String) throws -> (arguments: [String], mentions: [String]) {
        func explain(model m: String = model, image i: String = image, _ extra: [String] = []) -> [String] {
            ["--model", m, "--image", i] + extra
        }
        switch self {
        case .missingModel:
            let path = "\(dir)/no-such-model.safetensors"
            return (explain(model: path), [path])
        case .randomBytesModel:
            let path = "\(dir)/noise.safetensors"
            var rng = SystemRandomNumberGenerator()
            try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
                .write(to: URL(fileURLWithPath: path))
            return (explain(model: path), [path])
        case .textAsModel:
            let path = "\(dir)/readme.safetensors"
            try Data("this is not a model, just some text\n".utf8).write(to: URL(fileURLWithPath: path))
            return (explain(model: path), [path])
        case .missingImage:
            let path = "\(dir)/no-such-image.png"
            return (explain(image: path), [path])
        case .textFileAsImage:
            let path = "\(dir)/notes.txt"
            let text = (0..<200).map { "line \($0): the quick brown fox jumps over the lazy dog" }.joined(separator: "\n")
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return (explain(image: path), [path])
        case .textFileNamedPNG:
            let path = "\(dir)/fake.png"
            try Data("not a png at all\n".utf8).write(to: URL(fileURLWithPath: path))
            return (explain(image: path), [path])
        case .emptyImage:
            let path = "\(dir)/empty.png"
            try Data().write(to: URL(fileURLWithPath: path))
            return (explain(image: path), [path])
        case .folderAsImage:
            let path = "\(dir)/a-folder.png"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            return (explain(image: path), [path])
        case .unknownMethod:
            return (explain(["--method", "foo"]), ["foo"])
        case .unknownMethodInList:
            return (explain(["--method", "snna,bogusmethod"]), ["bogusmethod"])
        case .unknownClassLabel:
            return (explain(["--class", "reverse"]), ["reverse"])
        case .classIndexTooLarge:
            return (explain(["--class", "4"]), ["4", "out of range"])
        case .classIndexNegative:
            return (explain(["--class=-1"]), ["-1", "out of range"])
        case .zeroSamples:
            return (explain(["--method", "snna", "--samples", "0"]), ["--samples"])
        case .zeroSteps:
            return (explain(["--method", "attig", "--steps", "0"]), ["--steps"])
        case .negativeSigma:
            return (explain(["--method", "snna", "--sigma-fraction=-0.5"]), ["noise"])
        case .diagonalValueNorm:
            return (explain(["--value-norm", "diagonal"]), ["diagonal"])
        }
    }
}

@Suite("snna errors and help")
struct ErrorAndHelpTests {
    @Test("bad explain input: exit 1, one 'snna: error:' line naming the culprit, no output files",
          arguments: BadExplainInput.allCases)
    func badExplainInput(_ input: BadExplainInput) throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let (arguments, mentions) = try input.setUp(in: dir, model: model, image: image)
            let json = "\(dir)/result/out.json", png = "\(dir)/pngs"
            let run = try SNNA.run(["explain"] + arguments + ["--json", json, "--png", png, "--seed", "1"], in: dir)
            #expect(run.status == 1, "\(run)")
            #expect(run.errLines.count == 1, "stderr should be one line: \(run)")
            #expect(run.err.hasPrefix("snna: error: "), "\(run)")
            #expect(run.err.hasSuffix("\n"), "\(run)")
            for mention in mentions {
                #expect(run.err.contains(mention), "stderr does not mention '\(mention)': \(run)")
            }
            #expect(!run.err.contains("Fatal error"), "\(run)")
            #expect(run.stdout.isEmpty, "nothing should reach stdout: \(run)")
            #expect(!fileExists(json), "a JSON file was left behind")
            #expect(!fileExists("\(dir)/result"), "the JSON's folder was created")
            #expect(!fileExists(png), "the PNG folder was created")
        }
    }

    @Test("a --png folder that cannot be made: exit 1, one line naming it, and no JSON left behind")
    func unwritablePNGFolder() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let blocker = "\(dir)/blocker"
            try Data("a plain file".utf8).write(to: URL(fileURLWithPath: blocker))
            for png in [blocker, "\(blocker)/sub"] {
                let json = "\(dir)/out-\(UUID().uuidString).json"
                let run = try SNNA.run(["explain", "--model", model, "--image", image, "--method", "rawatt",
                                        "--json", json, "--png", png, "--seed", "1"], in: dir)
                #expect(run.status == 1, "\(run)")
                #expect(run.errLines.count == 1 && run.err.hasPrefix("snna: error:"), "\(run)")
                #expect(run.err.contains(png), "the error does not name the --png folder: \(run)")
                #expect(!fileExists(json), "a failed run left its JSON behind (--png \(png))")
            }
        }
    }

    @Test("a --json path whose folder cannot be made: exit 1, one line naming the path, no PNGs")
    func unwritableJSONFolder() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let image = try Fixtures.gradientPNG(in: dir)
            let blocker = "\(dir)/blocker"
            try Data("a plain file".utf8).write(to: URL(fileURLWithPath: blocker))
            let json = "\(blocker)/out.json", png = "\(dir)/maps"
            let run = try SNNA.run(["explain", "--model", model, "--image", image, "--method", "rawatt",
                                    "--json", json, "--png", png, "--seed", "1"], in: dir)
            #expect(run.status == 1, "\(run)")
            #expect(run.errLines.count == 1 && run.err.hasPrefix("snna: error:"), "\(run)")
            #expect(run.err.contains(json), "the error does not name the --json path: \(run)")
            #expect(!run.err.contains("Error Domain="), "a raw NSError reached the user: \(run)")
            #expect(!fileExists(png), "PNGs were written although the JSON failed")
        }
    }

    @Test("--json - with a bad input prints nothing on stdout")
    func badInputWithStdoutJSON() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let run = try SNNA.run(["explain", "--model", model, "--image", "\(dir)/absent.png", "--json", "-"], in: dir)
            #expect(run.status == 1, "\(run)")
            #expect(run.stdout.isEmpty, "\(run)")
            #expect(run.errLines.count == 1 && run.err.hasPrefix("snna: error:"), "\(run)")
        }
    }

    @Test("an image smaller than one patch cannot reach explain: resizing makes its short side input_short_side ≥ patch")
    func tinyImageIsResizedUp() throws {
        try withTemporaryFolder { dir in
            // Patch 8 and short side 8: a 3×2 image becomes int(8·3/2) = 12 × 8, cropped to 8 × 8 — one patch.
            let model = "\(dir)/p8.safetensors"
            let made = try SNNA.run(["model", "random", "--patch", "8", "--dim", "16", "--depth", "2", "--heads", "2",
                                     "--classes", "4", "--grid", "2", "--input-short-side", "8", "--seed", "1",
                                     "-o", model], in: dir)
            #expect(made.status == 0, "\(made)")
            let image = try Fixtures.gradientPNG(in: dir, width: 3, height: 2, name: "tiny.png")
            let doc = try explainJSON(model: model, image: image, in: dir, ["--method", "rawatt,snna", "--seed", "1"])
            #expect(doc.inputSize == [8, 8])
            #expect(doc.grid == [1, 1])
            #expect(doc.map("snna")?.count == 1)
            // A one-patch (constant) map still renders, and relative output paths resolve in the working folder.
            let rel = try SNNA.run(["explain", "--model", model, "--image", image, "--method", "all", "--seed", "1",
                                    "--json", "rel/out.json", "--png", "rel/maps"], in: dir)
            #expect(rel.status == 0, "\(rel)")
            #expect(fileExists("\(dir)/rel/out.json"))
            for method in allMethods {
                let bare = try ImageDecoder.decode(path: "\(dir)/rel/maps/\(method)_heatmap.png")
                #expect(bare.width == 8 && bare.height == 8, "\(method)_heatmap.png is \(bare.width)×\(bare.height)")
            }
            // And the model format refuses an input short side below the patch, the only other way there.
            let refused = try SNNA.run(["model", "random", "--patch", "8", "--dim", "16", "--depth", "1", "--heads", "2",
                                        "--input-short-side", "4", "-o", "\(dir)/x.safetensors"], in: dir)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.err.hasPrefix("snna: error:") && refused.err.contains("--input-short-side"), "\(refused)")
            #expect(!fileExists("\(dir)/x.safetensors"))
        }
    }

    @Test("snna --help lists the subcommands")
    func topLevelHelp() throws {
        try withTemporaryFolder { dir in
            let run = try SNNA.run(["--help"], in: dir)
            #expect(run.status == 0, "\(run)")
            for word in ["explain", "model", "USAGE"] {
                #expect(run.out.localizedCaseInsensitiveContains(word), "--help lacks '\(word)': \(run)")
            }
            let model = try SNNA.run(["model", "--help"], in: dir)
            #expect(model.status == 0, "\(model)")
            #expect(model.out.contains("inspect") && model.out.contains("random"), "\(model)")
        }
    }

    @Test("snna explain --help documents every option and the method names")
    func explainHelp() throws {
        try withTemporaryFolder { dir in
            let run = try SNNA.run(["explain", "--help"], in: dir)
            #expect(run.status == 0, "\(run)")
            for option in ["--model", "--image", "--method", "--class", "--samples", "--steps", "--sigma-fraction",
                           "--seed", "--value-norm", "--json", "--png", "--threads"] {
                #expect(run.out.contains(option), "explain --help lacks \(option): \(run)")
            }
            for method in allMethods {
                #expect(run.out.contains(method), "explain --help lacks the method \(method)")
            }
            let random = try SNNA.run(["model", "random", "--help"], in: dir)
            #expect(random.status == 0, "\(random)")
            for option in ["--patch", "--dim", "--depth", "--heads", "--classes", "--seed", "--grid",
                           "--input-short-side", "--labels", "--layer-scale", "--interpolation", "--n-last-blocks",
                           "--output"] {
                #expect(random.out.contains(option), "model random --help lacks \(option)")
            }
        }
    }
}
