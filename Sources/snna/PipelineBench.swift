import Foundation
import SNNAKernels
import SNNAModel
import SNNAPipeline

/// `snna bench --pipeline FILE`: the whole `snna process` job on one clip with the default schedule (predict every
/// frame, explain every 30th with SNNA), reporting end-to-end frames/s and each stage's share of the time.
struct PipelineBench {
    let engine: ViTEngine
    let clip: String
    let threads: Int
    let log: (String) -> Void

    struct Report: JSONReport {
        let cpu: String
        let threads: Int
        let date: String
        let model: String
        let clip: String
        let input: RunSummary.Input
        let counts: RunSummary.Counts
        let speed: RunSummary.Speed
        /// decode + prepare + overlay + encode as a fraction of the wall time (the target is under 10 %).
        let media_share: Double
    }

    func run() throws -> Report {
        let out = NSTemporaryDirectory() + "snna-pipeline-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var settings = ProcessSettings()
        settings.seed = 1
        let processor = try VideoProcessor(engine: engine, settings: settings, quiet: true)
        log("snna bench --pipeline — \(cpuModelName()), \(threads) worker threads, clip \(clip)")
        let result = try processor.process(input: clip, outputRoot: out)
        let s = result.summary
        log("  \(s.input.width)×\(s.input.height) \(s.input.codec), \(s.counts.decoded) frames (\(s.counts.predicted) predicted, "
            + "\(s.counts.explained) explained) in \(String(format: "%.1f", s.speed.wall_seconds)) s: "
            + "\(String(format: "%.3f", s.speed.frames_per_second)) frames/s end to end")
        for stage in s.speed.stages {
            log("  " + stage.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                + String(format: "%9.2f s  %5.1f%%  %8.2f frames/s", stage.seconds, 100 * stage.share, stage.frames_per_second))
        }
        let media = s.speed.stages.filter { ["decode", "prepare", "overlay", "encode"].contains($0.name) }.reduce(0) { $0 + $1.share }
        log(String(format: "  decode + prepare + overlay + encode: %.1f%% of the wall time", 100 * media))
        let c = engine.config
        return Report(cpu: cpuModelName(), threads: threads, date: ISO8601DateFormatter().string(from: Date()),
                      model: "\(c.name ?? "model"): patch \(c.patchSize), dim \(c.dim), depth \(c.depth)", clip: clip,
                      input: s.input, counts: s.counts, speed: s.speed, media_share: media)
    }
}
