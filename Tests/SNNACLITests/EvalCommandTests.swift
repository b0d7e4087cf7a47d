import Foundation
import SNNAMedia
import Testing

@Suite("snna eval") struct EvalCommandTests {
    /// Pictures with labels and a region mask for every label, so each sample is localised whatever its argmax is.
    func makeData(in dir: String, count: Int = 3) throws {
        try FileManager.default.createDirectory(atPath: "\(dir)/data/frames", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/data/masks", withIntermediateDirectories: true)
        var json: [String] = []
        for i in 0..<count {
            try Fixtures.gradientPNG(in: "\(dir)/data/frames", name: "p\(i).png")
            json.append("\"p\(i).png\": [\(i % 2), 1, 0, \(1 - i % 2)]")
            for label in Fixtures.labels {
                var mask = RGBImage(width: 64, height: 36)
                for y in 9..<18 { for x in (21 + i)..<32 { for c in 0..<3 { mask.pixels[(y * 64 + x) * 3 + c] = 255 } } }
                try PNGWriter.write(mask, to: "\(dir)/data/masks/p\(i)-\(label).png")
            }
        }
        try ("{" + json.joined(separator: ", ") + "}").write(toFile: "\(dir)/data/labels.json", atomically: true, encoding: .utf8)
    }

    func report(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    @Test("evaluates pictures: report.md, report.json, one SVG per mask, localisation from masks/ beside the labels")
    func picturesWithLabelsAndRegions() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            try makeData(in: dir)
            let run = try SNNA.run(["eval", "--model", model, "--images", "\(dir)/data/frames", "--labels", "\(dir)/data/labels.json",
                                    "--noise-samples", "2", "--seed", "4", "--out", "\(dir)/rep"], in: dir)
            #expect(run.status == 0, "\(run)")
            let r = try report("\(dir)/rep/report.json")
            #expect(r["samples"] as? Int == 3 && r["accuracy_reference"] as? String == "labels" && r["seed"] as? Int == 4)
            #expect((r["methods"] as? [String])?.count == 10)
            let perturbation = try #require(r["perturbation"] as? [String: Any])
            for kind in ["pixel", "token", "attention"] {
                let m = try #require(perturbation[kind] as? [String: Any])
                #expect((m["levels"] as? [Double])?.count == 9)
                let curves = try #require(m["curves"] as? [String: [Double]])
                #expect(curves.count == 10 && curves.values.allSatisfy { $0.count == 9 && $0.allSatisfy { (0...100).contains($0) } })
                let aupc = try #require(m["aupc"] as? [String: Double])
                for (method, curve) in curves { #expect(abs(aupc[method]! - curve.reduce(0, +)) < 1e-6) }
                let svg = try String(contentsOfFile: "\(dir)/rep/curves-\(kind).svg", encoding: .utf8)
                #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 11)
                if fileExists("\(dir)/rep/curves-\(kind).png") {   // only where FFmpeg has librsvg
                    let png = try ImageDecoder.decode(path: "\(dir)/rep/curves-\(kind).png")
                    #expect(png.width == 720 && png.height == 440)
                }
            }
            let localisation = try #require(r["localisation"] as? [String: Any])
            #expect(localisation["samples"] as? Int == 3)
            let scores = try #require(localisation["methods"] as? [String: [String: Double]])
            for (method, s) in scores {
                #expect(Set(s.keys) == ["pointing_game", "energy_inside", "iou_top"], "\(method)")
                #expect(s.values.allSatisfy { (0...1).contains($0) }, "\(method): \(s)")
            }
            let markdown = try String(contentsOfFile: "\(dir)/rep/report.md", encoding: .utf8)
            #expect(markdown.contains("| snna |") && markdown.contains("pointing game") && markdown.contains("AUPC"))

            // Same seed, same numbers.
            let again = try SNNA.run(["eval", "--model", model, "--images", "\(dir)/data/frames", "--labels", "\(dir)/data/labels.json",
                                      "--noise-samples", "2", "--seed", "4", "--quiet", "--out", "\(dir)/rep2"], in: dir)
            #expect(again.status == 0)
            #expect(NSDictionary(dictionary: try report("\(dir)/rep2/report.json")["perturbation"] as! [String: Any])
                        == NSDictionary(dictionary: perturbation))

            // A narrower re-run replaces the report folder as a whole: no chart of the earlier run survives.
            let narrow = try SNNA.run(["eval", "--model", model, "--images", "\(dir)/data/frames", "--masks", "token",
                                       "--methods", "rawatt", "--quiet", "--out", "\(dir)/rep"], in: dir)
            #expect(narrow.status == 0, "\(narrow)")
            #expect(fileExists("\(dir)/rep/curves-token.svg") && !fileExists("\(dir)/rep/curves-pixel.svg"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.contains(".partial-") })
        }
    }

    @Test("reference-quirks protocol, sampling, no labels, a video as input", .enabled(if: MediaTools.available, "ffmpeg missing"))
    func quirksOnVideoFrames() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let make = try runProcess(findOnPath("ffmpeg") ?? "/usr/bin/ffmpeg",
                                      ["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10", "-t", "1.2",
                                       "-c:v", "libx264", "-pix_fmt", "yuv420p", "\(dir)/clip.mp4"], in: dir, timeout: 60)
            #expect(make.status == 0, "\(make)")
            let run = try SNNA.run(["eval", "--model", model, "--video", "\(dir)/clip.mp4", "--samples", "4", "--methods", "rawatt,snna,random",
                                    "--protocol", "reference-quirks", "--quiet", "--out", "\(dir)/rep"], in: dir)
            #expect(run.status == 0, "\(run)")
            let r = try report("\(dir)/rep/report.json")
            #expect(r["samples"] as? Int == 4 && r["accuracy_reference"] as? String == "clean prediction")
            #expect(r["evaluation_protocol"] as? String == "reference-quirks")
            let p = try #require(r["perturbation"] as? [String: [String: Any]])
            #expect((p["token"]?["levels"] as? [Double])?.last == 0.1 && (p["pixel"]?["levels"] as? [Double])?.last == 0.2)
            #expect(p["pixel"]?["accuracy_rule"] as? String == "logit>0.5" && p["token"]?["accuracy_rule"] as? String == "softmax>0.5")
            #expect(p["attention"]?["resize"] as? String == "bilinear" && p["pixel"]?["resize"] as? String == "bicubic")
            // Without labels the clean prediction is the reference: the clean accuracy is 100 % by definition.
            #expect(p.values.allSatisfy { $0["clean_accuracy"] as? Double == 100 })
            #expect(r["localisation"] == nil)
        }
    }

    /// The two commands fit together: a rendered clip's labels.json (frame names) and masks/ are what eval reads.
    @Test("a rendered clip with its labels and region masks", .enabled(if: MediaTools.available, "ffmpeg missing"))
    func renderedClip() throws {
        try withTemporaryFolder { dir in
            let model = "\(dir)/bdd.safetensors"   // the renderer's labels: the BDD-OIA actions, the default for 4 classes
            let made = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--seed", "4", "-o", model], in: dir)
            #expect(made.status == 0, "\(made)")
            let render = try SNNA.run(["samples", "render", "--clip", "2", "--fps", "5", "--width", "160", "--height", "90",
                                       "--seed", "3", "--quiet", "--out", "\(dir)/scene"], in: dir)
            #expect(render.status == 0, "\(render)")
            let run = try SNNA.run(["eval", "--model", model, "--video", "\(dir)/scene/clip.mp4", "--labels", "\(dir)/scene/labels.json",
                                    "--methods", "rawatt,random", "--masks", "token", "--quiet", "--out", "\(dir)/rep"], in: dir)
            #expect(run.status == 0, "\(run)")
            let r = try report("\(dir)/rep/report.json")
            #expect(r["samples"] as? Int == 10 && r["accuracy_reference"] as? String == "labels")
            #expect((r["regions_folder"] as? String)?.hasSuffix("scene/masks") == true)
            let localisation = try #require(r["localisation"] as? [String: Any])
            let samples = try #require(localisation["samples"] as? Int)
            let without = try #require(localisation["samples_without_region"] as? Int)
            #expect(samples + without == 10 && samples > 0, "\(localisation)")
        }
    }

    @Test("labels that do not match the pictures or the model, and bad options, fail with one clear line")
    func mismatchedInputsFail() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            try makeData(in: dir)
            let base = ["eval", "--model", model, "--images", "\(dir)/data/frames", "--out", "\(dir)/rep"]
            func fails(_ extra: [String], _ needle: String) throws {
                let run = try SNNA.run(base + extra, in: dir)
                #expect(run.status != 0 && run.err.contains(needle), "\(extra): \(run)")
                #expect(run.err.split(separator: "\n").count == 1, "\(run.err)")
                #expect(!fileExists("\(dir)/rep"))
            }
            try #"{"p0.png": [1, 0, 0, 1], "p1.png": [1, 0, 0, 1], "p2.png": [1, 0, 0, 1], "gone.png": [1, 0, 0, 0]}"#
                .write(toFile: "\(dir)/extra.json", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/extra.json"], "gone.png")
            try #"{"p0.png": [1, 0, 0, 1], "p1.png": [1, 0, 0, 1]}"#.write(toFile: "\(dir)/short.json", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/short.json"], "no entry for 'p2.png'")
            try "file,go,stop,left,sideways\np0.png,1,0,0,1\n".write(toFile: "\(dir)/cols.csv", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/cols.csv"], "sideways")
            try "file,go,stop,left\np0.png,1,0,0\n".write(toFile: "\(dir)/few.csv", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/few.csv"], "header needs each")
            try "file,go,go,left,right\np0.png,1,0,0,1\n".write(toFile: "\(dir)/dup.csv", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/dup.csv"], "header needs each")
            try #"{"p0": [1, 0, 0, 1], "p1.png": [1, 0, 0, 1], "p2.png": [1, 0, 0, 1]}"#.write(toFile: "\(dir)/stem.json", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/stem.json"], "'p0'")
            try FileManager.default.createDirectory(atPath: "\(dir)/busy", withIntermediateDirectories: true)
            try "keep".write(toFile: "\(dir)/busy/notes.txt", atomically: true, encoding: .utf8)
            let busy = try SNNA.run(["eval", "--model", model, "--images", "\(dir)/data/frames", "--out", "\(dir)/busy"], in: dir)
            #expect(busy.status != 0 && busy.err.contains("does not hold an earlier report"), "\(busy)")
            #expect(fileExists("\(dir)/busy/notes.txt"))
            try #"{"p0.png": [1, 0, 1]}"#.write(toFile: "\(dir)/width.json", atomically: true, encoding: .utf8)
            try fails(["--labels", "\(dir)/width.json"], "needs 4 values")
            try fails(["--methods", "snna,magic"], "magic")
            try fails(["--masks", "pixel,blur"], "blur")
            try fails(["--protocol", "mine"], "reference-quirks")
            try fails(["--levels", "5,2"], "increase")
            try fails(["--video", "\(dir)/clip.mp4"], "exactly one")
            try fails(["--regions", "\(dir)/nowhere"], "not a folder")
            try "x".write(toFile: "\(dir)/afile", atomically: true, encoding: .utf8)
            let run = try SNNA.run(["eval", "--model", model, "--images", "\(dir)/data/frames", "--out", "\(dir)/afile/rep"], in: dir)
            #expect(run.status != 0 && run.err.contains("is a file"), "\(run)")
        }
    }
}
