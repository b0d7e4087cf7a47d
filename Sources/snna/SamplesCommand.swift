import ArgumentParser
import Foundation
import SNNASamples

struct SamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samples", abstract: "Synthetic dashcam scenes with ground-truth labels and decisive regions.",
        subcommands: [Render.self])

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render deterministic synthetic dashcam scenes (stills or a scripted clip) with labels and masks (docs/samples.md).",
            discussion: "Stills: DIR/frames/*.png, DIR/masks/*.png, DIR/labels.json, DIR/scenes.jsonl. "
                + "Clip (--clip): DIR/clip.mp4, DIR/masks/*.png, DIR/labels.json, DIR/track.jsonl.")

        @Option(help: "Output folder (created if needed).") var out: String
        @Option(help: "Number of random stills (default 200).") var frames: Int?
        @Option(help: "Render a scripted clip of this many seconds instead of stills.") var clip: Double?
        @Option(help: "Frame rate of the clip.") var fps: Int = 30
        @Option(help: "Seed: the same seed gives byte-identical output.") var seed: UInt64 = 0
        @Option(help: "Frame width (160…3840).") var width: Int = 640
        @Option(help: "Frame height (90…2160).") var height: Int = 360
        @Flag(help: "Do not print the summary line.") var quiet = false

        func run() throws {
            try reportingErrors {
                if frames != nil && clip != nil { throw CLIError("--frames and --clip cannot be combined") }
                if let frames, frames < 1 || frames > 1_000_000 {
                    throw CLIError("--frames must be between 1 and 1000000, got \(frames)")
                }
                if let clip, !(clip > 0 && clip <= 3600) {
                    throw CLIError("--clip must be a positive number of seconds up to 3600, got \(clip)")
                }
                guard (1...240).contains(fps) else { throw CLIError("--fps must be between 1 and 240, got \(fps)") }
                guard (160...3840).contains(width), (90...2160).contains(height) else {
                    throw CLIError("--width must be in 160…3840 and --height in 90…2160, got \(width)x\(height)")
                }
                try checkFolderLocation(out, option: "--out")
                let summary: SampleSummary
                do {
                    if let clip {
                        summary = try SampleWriter.writeClip(seconds: clip, fps: fps, seed: seed, width: width,
                                                             height: height, folder: out)
                    } else {
                        summary = try SampleWriter.writeStills(count: frames ?? 200, seed: seed, width: width,
                                                               height: height, folder: out)
                    }
                } catch let e as SampleError {
                    throw CLIError(e.message)
                }
                if !quiet {
                    let counts = zip(SceneLabel.allCases, summary.positives).map { "\($0.rawValue) \($1)" }
                        .joined(separator: ", ")
                    let what = clip != nil ? "a \(summary.frames)-frame clip (clip.mp4, track.jsonl)"
                        : "\(summary.frames) stills (frames/, scenes.jsonl)"
                    print(String(format: "rendered %@ to %@: %@; labels.json, masks/; %.1f s, %.1f ms render per frame",
                                 what, out, counts, summary.seconds, 1000 * summary.renderSecondsPerFrame))
                }
            }
        }
    }
}
