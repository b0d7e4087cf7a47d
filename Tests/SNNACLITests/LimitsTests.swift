import Foundation
import Testing

/// Inputs that would need absurd memory are refused with one line, not a crash.
@Suite("snna limits") struct LimitsTests {
    @Test("an extreme aspect ratio is refused before resizing, with exit 1 and one line")
    func extremeAspectRatioIsRefused() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            // 4000×2 becomes 64000×32 at short side 32: 16,001 patches of 4×4 plus CLS is over the limit.
            let image = try Fixtures.gradientPNG(in: dir, width: 4000, height: 2, name: "strip.png")
            let run = try SNNA.run(["explain", "--model", model, "--image", image, "--method", "rawatt",
                                    "--json", "\(dir)/out.json"], in: dir)
            #expect(run.status == 1, "\(run)")
            #expect(run.errLines.count == 1 && run.err.contains("strip.png") && run.err.contains("limit"), "\(run)")
            #expect(!fileExists("\(dir)/out.json"))
        }
    }

    @Test("model random refuses an input short side over the format's cap")
    func inputShortSideIsCapped() throws {
        try withTemporaryFolder { dir in
            let run = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments.dropLast(2)
                                   + ["--input-short-side", "100000", "-o", "\(dir)/m.safetensors"], in: dir)
            #expect(run.status == 1 && run.err.contains("--input-short-side"), "\(run)")
            #expect(!fileExists("\(dir)/m.safetensors"))
        }
    }
}
