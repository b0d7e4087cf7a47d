import Foundation
import SNNAMedia
import Testing

@Suite("snna head fit") struct HeadFitCommandTests {
    /// `count` pictures in dir/img whose left or right half is bright, labelled turn_left or turn_right to match (so
    /// flips, which swap those two labels, stay consistent), and their dir/labels.json.
    static func leftRightPictures(in dir: String, count: Int) throws {
        try FileManager.default.createDirectory(atPath: "\(dir)/img", withIntermediateDirectories: true)
        var json: [String] = []
        for i in 0..<count {
            let left = i % 2 == 0
            var image = RGBImage(width: 64, height: 36)
            for y in 0..<36 { for x in 0..<64 where (x < 32) == left {
                let p = (y * 64 + x) * 3
                image.pixels[p] = 240; image.pixels[p + 1] = 200 + UInt8(i % 50); image.pixels[p + 2] = 180
            } }
            try PNGWriter.write(image, to: "\(dir)/img/\(i).png")
            json.append("\"\(i).png\": [1, 0, \(left ? 1 : 0), \(left ? 0 : 1)]")
        }
        try ("{" + json.joined(separator: ", ") + "}").write(toFile: "\(dir)/labels.json", atomically: true, encoding: .utf8)
    }

    /// Pictures whose left or right half is bright, labelled turn_left / turn_right accordingly (so flips, which
    /// swap those two labels, stay consistent), plus clear errors for labels that do not match.
    @Test("fits a head on a labelled folder and records it; mismatched labels are refused")
    func fitHead() throws {
        try withTemporaryFolder { dir in
            let model = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--seed", "8", "-o", "\(dir)/m.safetensors"],
                                     in: dir)
            #expect(model.status == 0, "\(model)")
            try Self.leftRightPictures(in: dir, count: 16)
            let fit = try SNNA.run(["head", "fit", "--model", "\(dir)/m.safetensors", "--images", "\(dir)/img",
                                    "--labels", "\(dir)/labels.json", "--epochs", "40", "--lr", "50", "--batch", "8",
                                    "--val-fraction", "0.25", "-o", "\(dir)/fitted.safetensors"], in: dir)
            #expect(fit.status == 0, "\(fit)")
            #expect(fit.out.contains("train: 12 images") && fit.out.contains("validation: 4 images"), "\(fit)")
            let inspect = try SNNA.run(["model", "inspect", "\(dir)/fitted.safetensors"], in: dir)
            #expect(inspect.out.contains("snna head fit"), "\(inspect)")

            try "{\"0.png\": [1, 0, 1]}".write(toFile: "\(dir)/short.json", atomically: true, encoding: .utf8)
            let short = try SNNA.run(["head", "fit", "--model", "\(dir)/m.safetensors", "--images", "\(dir)/img",
                                      "--labels", "\(dir)/short.json", "-o", "\(dir)/x.safetensors"], in: dir)
            #expect(short.status == 1 && short.err.contains("needs 4 values"), "\(short)")
            try "{\"missing.png\": [1, 0, 1, 0], \"0.png\": [1, 0, 1, 0]}".write(toFile: "\(dir)/missing.json", atomically: true, encoding: .utf8)
            let missing = try SNNA.run(["head", "fit", "--model", "\(dir)/m.safetensors", "--images", "\(dir)/img",
                                        "--labels", "\(dir)/missing.json", "-o", "\(dir)/x.safetensors"], in: dir)
            #expect(missing.status == 1 && missing.err.contains("missing.png"), "\(missing)")
            #expect(!fileExists("\(dir)/x.safetensors"))
        }
    }

    /// --save-head writes the head alone, which `model import --head` attaches to the backbone again with identical
    /// logits; --feature-cache makes a second fit reuse the features (same result, no "computed" lines) and is
    /// refused for another backbone; `head score` reports the same accuracy the fit printed for its data.
    @Test("saved head, feature cache and head score")
    func savedHeadCacheAndScore() throws {
        try withTemporaryFolder { dir in
            let model = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--seed", "8", "-o", "\(dir)/m.safetensors"], in: dir)
            #expect(model.status == 0, "\(model)")
            try Self.leftRightPictures(in: dir, count: 80)
            let args = ["head", "fit", "--model", "\(dir)/m.safetensors", "--images", "\(dir)/img", "--labels", "\(dir)/labels.json",
                        "--epochs", "30", "--lr", "50", "--batch", "8", "--val-fraction", "0", "--weight-decay", "0.0001",
                        "--feature-cache", "\(dir)/f.cache"]
            let first = try SNNA.run(args + ["--save-head", "\(dir)/head.safetensors", "-o", "\(dir)/a.safetensors"], in: dir)
            #expect(first.status == 0 && first.err.contains("computed"), "\(first)")
            let second = try SNNA.run(args + ["-o", "\(dir)/b.safetensors"], in: dir)
            #expect(second.status == 0 && !second.err.contains("computed"), "\(second)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.safetensors")) == Data(contentsOf: URL(fileURLWithPath: "\(dir)/b.safetensors")))

            let attached = try SNNA.run(["model", "import", "--backbone", "\(dir)/m.safetensors", "--head", "\(dir)/head.safetensors",
                                         "-o", "\(dir)/c.safetensors"], in: dir)
            #expect(attached.status == 0, "\(attached)")
            try Fixtures.gradientPNG(in: dir)
            let logitsA = try explainJSON(model: "\(dir)/a.safetensors", image: "\(dir)/frame.png", in: dir, ["--method", "rawatt"])
            let logitsC = try explainJSON(model: "\(dir)/c.safetensors", image: "\(dir)/frame.png", in: dir, ["--method", "rawatt"])
            #expect(ExplainDoc.numbers(logitsA.root["logits"]) == ExplainDoc.numbers(logitsC.root["logits"]))

            // The training accuracy line of the fit (no validation split) and `head score` on the same pictures agree.
            let score = try SNNA.run(["head", "score", "--model", "\(dir)/a.safetensors", "--images", "\(dir)/img",
                                      "--labels", "\(dir)/labels.json", "--feature-cache", "\(dir)/f.cache", "--json", "\(dir)/s.json"], in: dir)
            #expect(score.status == 0 && !score.err.contains("computed"), "\(score)")
            let fitLine = first.out.split(separator: "\n").first { $0.contains("sigmoid rule") }.map(String.init)
            let scoreLine = score.out.split(separator: "\n").first { $0.contains("sigmoid rule") }.map(String.init)
            #expect(fitLine != nil && fitLine == scoreLine, "\(first.out) vs \(score.out)")
            let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/s.json"))) as? [String: Any]
            #expect(s?["images"] as? Int == 80 && (s?["sigmoid"] as? [String: Any])?["per_label"] != nil)

            // Another backbone never reuses the cache.
            let other = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--seed", "9", "-o", "\(dir)/o.safetensors"], in: dir)
            #expect(other.status == 0)
            let third = try SNNA.run(["head", "fit", "--model", "\(dir)/o.safetensors", "--images", "\(dir)/img", "--labels", "\(dir)/labels.json",
                                      "--epochs", "2", "--feature-cache", "\(dir)/f.cache", "-o", "\(dir)/d.safetensors"], in: dir)
            #expect(third.status == 0 && third.err.contains("computed"), "\(third)")
        }
    }
}
