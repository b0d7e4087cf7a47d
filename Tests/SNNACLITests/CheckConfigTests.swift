import Foundation
import Testing

@Suite("snna check-config") struct CheckConfigTests {
    @Test("valid files print the effective configuration; invalid ones exit 78 naming the key and line")
    func checkConfig() throws {
        try withTemporaryFolder { dir in
            let good = "\(dir)/good.yaml"
            try "watch: [/data/cam]\noutput: /data/out\nstate: /data/state\nmodel: /data/m.safetensors\nworkers: 2\n"
                .write(toFile: good, atomically: true, encoding: .utf8)
            let ok = try SNNA.run(["check-config", good], in: dir)
            #expect(ok.status == 0 && ok.out.contains("workers: 2") && ok.out.contains("explain_stride: 30"), "\(ok)")
            let bad = "\(dir)/bad.yaml"
            try "watch: [/data/cam]\noutput: /data/out\nstate: /data/state\nmodel: /m\nprocess:\n  predict_stride: zero\n"
                .write(toFile: bad, atomically: true, encoding: .utf8)
            let run = try SNNA.run(["check-config", bad], in: dir)
            #expect(run.status == 78, "\(run)")
            #expect(run.errLines.count == 1 && run.err.contains("'process.predict_stride', line 6"), "\(run)")
            let missing = try SNNA.run(["check-config", "\(dir)/none.yaml"], in: dir)
            #expect(missing.status == 78 && missing.err.contains("none.yaml"), "\(missing)")
        }
    }
}
