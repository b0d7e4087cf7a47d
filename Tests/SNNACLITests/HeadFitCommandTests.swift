import Foundation
import SNNAMedia
import Testing

@Suite("snna head fit") struct HeadFitCommandTests {
    /// Pictures whose left or right half is bright, labelled turn_left / turn_right accordingly (so flips, which
    /// swap those two labels, stay consistent), plus clear errors for labels that do not match.
    @Test("fits a head on a labelled folder and records it; mismatched labels are refused")
    func fitHead() throws {
        try withTemporaryFolder { dir in
            let model = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments + ["--seed", "8", "-o", "\(dir)/m.safetensors"],
                                     in: dir)
            #expect(model.status == 0, "\(model)")
            try FileManager.default.createDirectory(atPath: "\(dir)/img", withIntermediateDirectories: true)
            var json: [String] = []
            for i in 0..<16 {
                let left = i % 2 == 0
                var image = RGBImage(width: 64, height: 36)
                for y in 0..<36 { for x in 0..<64 where (x < 32) == left {
                    let p = (y * 64 + x) * 3
                    image.pixels[p] = 240; image.pixels[p + 1] = 200 + UInt8(i); image.pixels[p + 2] = 180
                } }
                try PNGWriter.write(image, to: "\(dir)/img/\(i).png")
                json.append("\"\(i).png\": [1, 0, \(left ? 1 : 0), \(left ? 0 : 1)]")
            }
            try ("{" + json.joined(separator: ", ") + "}").write(toFile: "\(dir)/labels.json", atomically: true, encoding: .utf8)
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
}
