import Foundation
import SNNAMedia

/// `summary.json`: what went in, what settings were used, what the model saw over time, and how fast each stage ran.
public struct RunSummary: Codable, Sendable {
    public struct Input: Codable, Sendable {
        public var path: String
        public var container: String
        public var codec: String
        public var width: Int
        public var height: Int
        public var rotation: Int
        public var fps: Double
        public var duration: Double?
        public var frames: Int
        public var truncated: Bool
        public var warnings: [String]
    }
    public struct Model: Codable, Sendable {
        public var name: String?
        public var provenance: String?
        public var labels: [String]
    }
    public struct Segment: Codable, Sendable, Equatable {
        public var start: Double
        public var end: Double
    }
    public struct Action: Codable, Sendable {
        public var label: String
        /// Fraction of the video's time during which the action was active (each decoded frame weighted by its
        /// duration and carrying the latest prediction at or before it).
        public var active_share: Double
        /// Decoded frames carrying an active prediction of this action.
        public var active_frames: Int
        public var segments: [Segment]
    }
    public struct Counts: Codable, Sendable {
        public var decoded: Int
        public var predicted: Int
        public var explained: Int
    }
    public struct Stage: Codable, Sendable {
        public var name: String
        public var seconds: Double
        /// Frames through this stage per second of its own time.
        public var frames_per_second: Double
        public var share: Double
    }
    public struct Speed: Codable, Sendable {
        public var wall_seconds: Double
        public var frames_per_second: Double
        public var stages: [Stage]
    }
    public var snna_version: String
    public var input: Input
    public var model: Model
    public var settings: ProcessSettings
    public var actions: [Action]
    public var counts: Counts
    public var speed: Speed
    public var outputs: [String]
}

/// Turns the per-frame activity into time shares and segments as frames arrive.
struct ActivityTracker {
    let labels: [String]
    private(set) var activeTime: [Double]
    private(set) var activeFrames: [Int]
    private(set) var totalTime = 0.0
    private(set) var segments: [[RunSummary.Segment]]
    private var open: [Double?]

    init(labels: [String]) {
        self.labels = labels
        activeTime = Array(repeating: 0, count: labels.count)
        activeFrames = Array(repeating: 0, count: labels.count)
        segments = Array(repeating: [], count: labels.count)
        open = Array(repeating: nil, count: labels.count)
    }

    /// One decoded frame shown from `start` for `duration` seconds, with the activity of the latest prediction at or
    /// before it (so a prediction is held over the frames a stride skips).
    mutating func add(active: [Bool], start: Double, duration: Double) {
        totalTime += duration
        for i in labels.indices {
            if active[i] {
                activeTime[i] += duration
                activeFrames[i] += 1
                if open[i] == nil { open[i] = start }
            } else if let s = open[i] {
                segments[i].append(.init(start: s, end: start))
                open[i] = nil
            }
        }
    }

    mutating func finish(at end: Double) {
        for i in labels.indices {
            if let s = open[i] { segments[i].append(.init(start: s, end: end)) }
            open[i] = nil
        }
    }

    var actions: [RunSummary.Action] {
        labels.indices.map { i in
            RunSummary.Action(label: labels[i], active_share: totalTime > 0 ? activeTime[i] / totalTime : 0,
                              active_frames: activeFrames[i], segments: segments[i])
        }
    }
}
