import Foundation
import Testing

/// Inputs real dashcam folders produce that the basic suite does not: repeated file names, timestamps that jump
/// back, labels that are not file-name safe.
@Suite("snna process robustness", .enabled(if: MediaTools.available, "ffmpeg and ffprobe are not on PATH"))
struct ProcessRobustnessTests {
    @Test("two inputs with the same file name get separate folders")
    func repeatedNames() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            try FileManager.default.createDirectory(atPath: "\(dir)/a", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(dir)/b", withIntermediateDirectories: true)
            let one = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "a/FILE0001.MP4", in: dir)
            let two = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.5) + MediaTools.x264, output: "b/FILE0001.MP4", in: dir)
            let out = "\(dir)/out"
            let run = try ProcessOutput.run(model: model, out: out, ["--explain-stride", "0", "--no-video"], [one, two], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(try ProcessOutput.actions("\(out)/FILE0001/actions.jsonl").count == 30)
            #expect(try ProcessOutput.actions("\(out)/FILE0001-2/actions.jsonl").count == 15)
        }
    }

    @Test("timestamps that jump back: the log keeps them, the overlay has every frame in order, with a warning")
    func timestampsJumpingBack() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            // Two TS recordings joined byte for byte, the second starting earlier than the first ends.
            let first = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264 + ["-output_ts_offset", "10", "-f", "mpegts"],
                                              output: "first.ts", in: dir)
            let second = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264 + ["-output_ts_offset", "2", "-f", "mpegts"],
                                               output: "second.ts", in: dir)
            var joined = try Data(contentsOf: URL(fileURLWithPath: first))
            joined.append(try Data(contentsOf: URL(fileURLWithPath: second)))
            let clip = "\(dir)/joined.ts"
            try joined.write(to: URL(fileURLWithPath: clip))
            let out = "\(dir)/out"
            let run = try ProcessOutput.run(model: model, out: out, ["--explain-stride", "0"], [clip], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.err.contains("snna: warning:") && run.err.contains("jump back"), "\(run)")
            let lines = try ProcessOutput.actions("\(out)/joined/actions.jsonl")
            let pts = try MediaTools.framePTS(clip, in: dir)
            ProcessOutput.expectFrames(lines, frames: Array(0..<pts.count), pts: pts)
            let overlay = try MediaTools.stream("\(out)/joined/overlay.mp4", in: dir)
            #expect(overlay.readFrames == pts.count)
            let overlayPTS = try MediaTools.framePTS("\(out)/joined/overlay.mp4", in: dir)
            #expect(zip(overlayPTS, overlayPTS.dropFirst()).allSatisfy { $0 < $1 })
        }
    }

    @Test("a label with a slash still gets its heat map, under a file-safe name")
    func labelsWithSlashes() throws {
        try withTemporaryFolder { dir in
            let model = "\(dir)/slash.safetensors"
            let made = try SNNA.run(["model", "random"] + Fixtures.tinyModelArguments
                                    + ["--labels", "go,stop/yield,left,right", "--seed", "2", "-o", model], in: dir)
            #expect(made.status == 0, "\(made)")
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.2) + MediaTools.x264, output: "c.mp4", in: dir)
            let out = "\(dir)/out"
            let run = try ProcessOutput.run(model: model, out: out,
                                            ["--explain-stride", "1", "--explain-target", "active", "--threshold", "0.01",
                                             "--samples", "1", "--heatmaps"], [clip], in: dir)
            #expect(run.status == 0, "\(run)")
            let lines = try ProcessOutput.actions("\(out)/c/actions.jsonl")
            let explained = try #require(lines.first?["explained"] as? [String: Any])
            let targets = try #require(explained["targets"] as? [[String: Any]])
            #expect(targets.count == 4)
            let paths = targets.compactMap { $0["heatmap"] as? String }
            #expect(paths.contains("heatmaps/frame-000000-stop_yield.png"), "\(paths)")
            for p in paths { #expect(fileExists("\(out)/c/\(p)"), "\(p)") }
            #expect((explained["heatmap"] as? String) == paths.first)
        }
    }
}
