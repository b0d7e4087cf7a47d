import Foundation
import Testing

/// The real dashcam clip in ../shared/samples (960×540, 25 fps, H.264 + AAC, 221 frames), when it is there: every
/// frame predicted, a few explained; log and overlay checked against ffprobe. Skips cleanly without ../shared.
@Suite("snna process on the shared dashcam sample",
       .enabled(if: MediaTools.available && SharedSample.path != nil, "../shared/samples or ffmpeg/ffprobe missing"))
struct SharedSampleTests {
    @Test("solidWhiteRight.mp4: 221 lines with ffprobe's pts, overlay with the same frames, size and duration")
    func realClip() throws {
        let clip = try #require(SharedSample.path)
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let out = "\(dir)/out"
            let run = try ProcessOutput.run(model: model, out: out, ["--explain-stride", "100", "--seed", "5"], [clip],
                                            in: dir)
            #expect(run.status == 0, "\(run)")
            let folder = "\(out)/solidWhiteRight"
            let lines = try ProcessOutput.actions("\(folder)/actions.jsonl")
            let pts = try MediaTools.framePTS(clip, in: dir)
            #expect(pts.count == 221)
            ProcessOutput.expectFrames(lines, frames: Array(0..<pts.count), pts: pts)
            #expect(lines.filter { $0["explained"] != nil }.count == 3)  // predicted frames 0, 100, 200
            let source = try MediaTools.stream(clip, in: dir)
            let overlay = try MediaTools.stream("\(folder)/overlay.mp4", in: dir)
            #expect(overlay.codec == "h264" && overlay.width == 960 && overlay.height == 540)
            #expect(overlay.readFrames == 221)
            #expect(abs((overlay.duration ?? 0) - (source.duration ?? -1)) < 0.05, "\(overlay) vs \(source)")
            #expect(try MediaTools.framePTS("\(folder)/overlay.mp4", in: dir).elementsEqual(pts) { abs($0 - $1) < 1e-3 })
            let summary = try ProcessOutput.json("\(folder)/summary.json")
            let input = try #require(summary["input"] as? [String: Any])
            #expect((input["frames"] as? NSNumber)?.intValue == 221 && (input["truncated"] as? Bool) == false)
            #expect((input["codec"] as? String) == "h264")
        }
    }
}

enum SharedSample {
    /// ../shared/samples/solidWhiteRight.mp4 beside the package root, if present.
    static let path: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = root.deletingLastPathComponent().appendingPathComponent("shared/samples/solidWhiteRight.mp4").path
        return FileManager.default.fileExists(atPath: file) ? file : nil
    }()
}
