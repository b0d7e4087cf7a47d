import Foundation
import Testing

@Suite("snna model import") struct ModelImportCommandTests {
    @Test("a head swapped onto an snna backbone, random and zero heads, and clear refusals")
    func importThroughTheCLI() throws {
        try withTemporaryFolder { dir in
            let backbone = try Fixtures.tinyModel(in: dir)
            let out = "\(dir)/random-head.safetensors"
            let run = try SNNA.run(["model", "import", "--backbone", backbone, "--head", "random", "--classes", "3",
                                    "--labels", "a,b,c", "--seed", "4", "-o", out], in: dir)
            #expect(run.status == 0, "\(run)")
            let inspect = try SNNA.run(["model", "inspect", out], in: dir)
            #expect(inspect.out.contains("a, b, c") && inspect.out.contains("RANDOM head"), "\(inspect)")
            // Without --head, the backbone's own head is kept.
            let kept = try SNNA.run(["model", "import", "--backbone", backbone, "-o", "\(dir)/kept.safetensors"], in: dir)
            #expect(kept.status == 0, "\(kept)")
            // A head of the wrong width is refused, naming the shapes; nothing is written.
            let wrong = try SNNA.run(["model", "import", "--backbone", backbone, "--head", out, "--n-last-blocks", "2",
                                      "-o", "\(dir)/wrong.safetensors"], in: dir)
            #expect(wrong.status == 1 && wrong.errLines.count == 1 && wrong.err.contains("expected [C, 2·16 = 32]"), "\(wrong)")
            #expect(!fileExists("\(dir)/wrong.safetensors"))
            let missing = try SNNA.run(["model", "import", "--backbone", "\(dir)/nope.pth", "--head", "zero", "--classes", "2",
                                        "-o", "\(dir)/x.safetensors"], in: dir)
            #expect(missing.status == 1 && missing.err.contains("nope.pth"), "\(missing)")
            try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: "\(dir)/junk.pth"))
            let junk = try SNNA.run(["model", "import", "--backbone", "\(dir)/junk.pth", "--head", "zero", "--classes", "2",
                                     "-o", "\(dir)/x.safetensors"], in: dir)
            #expect(junk.status == 1 && junk.errLines.count == 1 && junk.err.contains("junk.pth"), "\(junk)")
            let noClasses = try SNNA.run(["model", "import", "--backbone", backbone, "--head", "random", "-o", "\(dir)/y"], in: dir)
            #expect(noClasses.status == 1 && noClasses.err.contains("--classes"), "\(noClasses)")
        }
    }
}
