import Foundation
import SNNAAttribution
import SNNAKernels
import SNNAMedia
import SNNAModel
import Synchronization

/// What one processed input produced.
public struct ProcessResult: Sendable {
    public let outputFolder: String
    public let summary: RunSummary
}

/// One video in, an action log, an overlay video, heat maps and a summary out (issue #4). Decoding runs ahead on its
/// own thread through a bounded queue; prediction runs in batches; every `explainStride`-th predicted frame is
/// explained; every frame is composed and encoded in order.
public final class VideoProcessor {
    public let engine: ViTEngine
    public let settings: ProcessSettings
    public let quiet: Bool
    /// Called with one-line warnings (damaged input) as they happen.
    public var warn: (String) -> Void = { _ in }
    /// Called after each batch with the frames decoded so far (the daemon's STATUS and watchdog).
    public var onProgress: (_ frames: Int, _ expected: Int?) -> Void = { _, _ in }
    /// Checked after each batch: true stops the run (its outputs are removed) with `PipelineCancelled`.
    public var shouldStop: () -> Bool = { false }
    let explainer: Explainer

    public init(engine: ViTEngine, settings: ProcessSettings, quiet: Bool = false) throws {
        try settings.validate()
        self.engine = engine
        self.settings = settings
        self.quiet = quiet
        explainer = Explainer(engine: engine)
    }

    /// The folder name for an input: its file name without the extension (cut to `OutputFolder.maxNameBytes`), then
    /// `suffix`.
    public static func outputName(for path: String, suffix: String = "") -> String {
        let file = URL(fileURLWithPath: path).lastPathComponent
        let stem = (file as NSString).deletingPathExtension
        return OutputFolder.name(stem: stem.isEmpty ? file : stem, suffix: suffix)
    }

    /// Processes one input into `outputRoot/<outputName>` (default: the file name without its extension). With an
    /// `identity`, an existing folder of that name is replaced only if it holds the result of the same identity.
    public func process(input path: String, outputRoot: String, outputName: String? = nil,
                        identity: String? = nil) throws -> ProcessResult {
        let started = Date()
        let reader = try VideoReader(path: path, maxFramePixels: settings.maxFramePixels)
        let info = reader.info
        let folder = try OutputFolder(root: outputRoot, name: outputName ?? VideoProcessor.outputName(for: path),
                                      identity: identity)
        do {
            let summary = try run(reader: reader, info: info, folder: folder, started: started)
            try folder.commit()
            return ProcessResult(outputFolder: folder.final, summary: summary)
        } catch {
            folder.abandon()
            throw error
        }
    }

    /// Timing of each stage, in seconds.
    struct Clock {
        var decode = 0.0, prepare = 0.0, predict = 0.0, explain = 0.0, overlay = 0.0, encode = 0.0
    }

    private func run(reader: VideoReader, info: VideoInfo, folder: OutputFolder, started: Date) throws -> RunSummary {
        let config = engine.config
        let log = try ActionLog(path: folder.path("actions.jsonl"))
        if settings.writeHeatmaps {
            try FileManager.default.createDirectory(atPath: folder.path("heatmaps"), withIntermediateDirectories: true)
        }
        let writer = settings.writeVideo
            ? try VideoWriter(path: folder.path("overlay.mp4"), width: info.width, height: info.height,
                              timeBaseNumerator: info.timeBaseNumerator, timeBaseDenominator: info.timeBaseDenominator,
                              frameRate: info.frameRate)
            : nil
        let progress = ProgressReporter(name: URL(fileURLWithPath: info.path).lastPathComponent,
                                        expectedFrames: info.frameCountEstimate, quiet: quiet)
        if !quiet {
            FileHandle.standardError.write(Data("\(info.path): live action log \(folder.path("actions.jsonl"))\n".utf8))
        }

        // Decoder thread → bounded queue → this thread.
        let queue = FrameQueue<DecodedItem>(capacity: 8)
        let decoder = DecoderThread(reader: reader, queue: queue)
        decoder.start()
        var state = RunState(labels: config.labels)
        var clock = Clock()
        do {
            var pending: [VideoFrame] = []
            var predictedPending = 0
            while let item = queue.pop() {
                switch item {
                case .failure(let message):
                    // Frames already delivered are kept: the file is treated as damaged from here on.
                    guard state.decoded > 0 else { throw PipelineError(message) }
                    state.decodeFailure = "decoding stopped after frame \(state.decoded - 1) (\(message)); processed up to there"
                case .frame(var frame):
                    state.decoded += 1
                    let predicted = frame.index % settings.predictStride == 0
                    // Without a video to write, a frame that is not predicted only needs its timing.
                    if !predicted && writer == nil { frame.image = RGBImage(width: 0, height: 0) }
                    pending.append(frame)
                    if predicted { predictedPending += 1 }
                    if predictedPending >= settings.batch || (writer != nil && pending.count >= pendingFrameLimit) {
                        try flush(&pending, state: &state, clock: &clock, info: info, folder: folder, log: log,
                                  writer: writer)
                        predictedPending = 0
                        progress.update(frames: state.decoded)
                        onProgress(state.decoded, info.frameCountEstimate)
                        if shouldStop() { throw PipelineCancelled() }
                    }
                }
            }
            try flush(&pending, state: &state, clock: &clock, info: info, folder: folder, log: log, writer: writer)
        } catch {
            queue.close()
            decoder.join()
            writer?.abandon()
            try? log.close()
            progress.interrupt()
            throw error
        }
        decoder.join()
        clock.decode = decoder.seconds
        progress.finish(frames: state.decoded)
        var warnings = reader.warnings
        if let failure = state.decodeFailure { warnings.append(failure) }
        if let shift = state.writerShiftNote { warnings.append(shift) }
        for w in warnings { warn("\(info.path): \(w)") }
        let truncated = reader.truncated || state.decodeFailure != nil
        state.activity.finish(at: state.endSeconds)
        let encodeStart = Date()
        try writer?.finish()
        clock.encode += Date().timeIntervalSince(encodeStart)
        try log.close()

        var outputs = ["actions.jsonl", "summary.json"]
        if settings.writeVideo { outputs.append("overlay.mp4") }
        if settings.writeHeatmaps { outputs.append("heatmaps/") }
        let wall = Date().timeIntervalSince(started)
        let stages: [(String, Double, Int)] = [
            ("decode", clock.decode, state.decoded), ("prepare", clock.prepare, state.predicted),
            ("predict", clock.predict, state.predicted), ("explain", clock.explain, state.explained),
            ("overlay", clock.overlay, settings.writeVideo ? state.decoded : 0),
            ("encode", clock.encode, settings.writeVideo ? state.decoded : 0),
        ]
        // Shares of the wall time: decoding runs on its own thread, so the shares need not add up to 1.
        let busy = wall
        let summary = RunSummary(
            snna_version: snnaVersion,
            input: .init(path: info.path, container: info.container, codec: info.codec, width: info.width,
                         height: info.height, rotation: info.rotation, fps: info.frameRate, duration: info.duration,
                         frames: state.decoded, truncated: truncated, warnings: warnings),
            model: .init(name: config.name, provenance: config.provenance, labels: config.labels),
            settings: settings, actions: state.activity.actions,
            counts: .init(decoded: state.decoded, predicted: state.predicted, explained: state.explained),
            speed: .init(wall_seconds: wall, frames_per_second: Double(state.decoded) / max(wall, 1e-9),
                         stages: stages.map { name, seconds, frames in
                             RunSummary.Stage(name: name, seconds: seconds,
                                              frames_per_second: seconds > 0 ? Double(frames) / seconds : 0,
                                              share: busy > 0 ? seconds / busy : 0)
                         }),
            outputs: outputs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        var data = try encoder.encode(summary)
        data.append(0x0A)
        try data.write(to: URL(fileURLWithPath: folder.path("summary.json")))
        return summary
    }

    /// Predicts the predicted frames among `pending` in one batch, explains the scheduled ones, then logs, composes
    /// and encodes every pending frame in order.
    private func flush(_ pending: inout [VideoFrame], state: inout RunState, clock: inout Clock, info: VideoInfo,
                       folder: OutputFolder, log: ActionLog, writer: VideoWriter?) throws {
        guard !pending.isEmpty else { return }
        let config = engine.config
        let predictedFrames = pending.filter { $0.index % settings.predictStride == 0 }
        var t = Date()
        let inputs = try predictedFrames.map {
            try ModelInput($0.image, engine: engine, shortSide: settings.shortSide, name: "\(info.path) frame \($0.index)")
        }
        clock.prepare += Date().timeIntervalSince(t)
        t = Date()
        let logits = inputs.isEmpty ? [] : try engine.predict(inputs.map(\.tensor))
        clock.predict += Date().timeIntervalSince(t)
        var next = 0
        for frame in pending {
            if frame.index % settings.predictStride == 0 {
                let input = inputs[next], y = logits[next]
                next += 1
                let p = y.map { 1 / (1 + Foundation.exp(-$0)) }
                let active = config.labels.indices.map { p[$0] >= settings.threshold(for: config.labels[$0]) }
                var record = ActionRecord(frame: frame.index, pts: frame.seconds, labels: config.labels, logits: y,
                                          probabilities: p,
                                          active: config.labels.indices.filter { active[$0] }.map { config.labels[$0] },
                                          explained: nil)
                if settings.explainStride > 0 && state.predicted % settings.explainStride == 0 {
                    let te = Date()
                    record.explained = try explain(frame: frame, input: input, logits: y, active: active, state: &state,
                                                   folder: folder)
                    clock.explain += Date().timeIntervalSince(te)
                }
                state.predicted += 1
                state.bars = config.labels.indices.map {
                    ActionBar(label: config.labels[$0], probability: p[$0], active: active[$0])
                }
                state.active = active
                try log.append(record)
            }
            let seconds = durationSeconds(frame, info: info)
            state.activity.add(active: state.active, start: frame.seconds, duration: seconds)
            state.endSeconds = frame.seconds + seconds
            if let writer {
                var tc = Date()
                let picture = Overlay.compose(frame: frame.image, heat: state.heat, heatOpacity: settings.heatOpacity,
                                              bars: state.bars, timestamp: Overlay.timestamp(seconds: frame.seconds),
                                              caption: state.caption)
                clock.overlay += Date().timeIntervalSince(tc)
                tc = Date()
                try writer.write(picture, pts: state.monotonicPTS(frame), duration: frame.duration)
                clock.encode += Date().timeIntervalSince(tc)
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    private func explain(frame: VideoFrame, input: ModelInput, logits: [Float], active: [Bool], state: inout RunState,
                         folder: OutputFolder) throws -> ActionRecord.Explained {
        let config = engine.config
        var targets: [Int]
        switch settings.explainTarget {
        case .argmax: targets = [Explainer.argmax(logits)]
        case .active:
            targets = active.indices.filter { active[$0] }
            if targets.isEmpty { targets = [Explainer.argmax(logits)] }
        }
        let seed = settings.seed &+ UInt64(frame.index)
        var explainedTargets: [ActionRecord.Explained.Target] = []
        var grid = [0, 0]
        for (k, target) in targets.enumerated() {
            let options = ExplanationOptions(target: target, samples: settings.samples, seed: seed)
            let result = try explainer.explain(input.tensor, methods: [settings.method], options: options)
            let map = result.map(settings.method)!
            grid = [result.gridRows, result.gridCols]
            var heatmapPath: String?
            if settings.writeHeatmaps {
                let relative = String(format: "heatmaps/frame-%06d-%@.png", frame.index,
                                      VideoProcessor.fileSafe(config.labels[target]) as NSString)
                let picture = Heatmap.render(map: map, rows: result.gridRows, cols: result.gridCols,
                                             patchSize: config.patchSize, photo: input.photo).overlay
                try PNGWriter.write(picture, to: folder.path(relative))
                heatmapPath = relative
            }
            if k == 0 {
                state.heat = Overlay.heatLayer(map: map, rows: result.gridRows, cols: result.gridCols,
                                               coveredWidth: input.coveredWidth, coveredHeight: input.coveredHeight,
                                               frameWidth: frame.image.width, frameHeight: frame.image.height)
                state.caption = "\(settings.method.rawValue): \(config.labels[target]) (frame \(frame.index))"
            }
            explainedTargets.append(.init(index: target, label: config.labels[target], heatmap: heatmapPath))
        }
        state.explained += 1
        return ActionRecord.Explained(method: settings.method.rawValue, target: explainedTargets[0].label,
                                      targets: explainedTargets, seed: seed, grid: grid,
                                      heatmap: explainedTargets[0].heatmap)
    }

    private func durationSeconds(_ frame: VideoFrame, info: VideoInfo) -> Double {
        Double(frame.duration) * Double(info.timeBaseNumerator) / Double(info.timeBaseDenominator)
    }

    /// With a video to write, frames wait for their batch; at most this many (about 190 MB at 720p).
    var pendingFrameLimit: Int { min(max(settings.batch * settings.predictStride, settings.batch), 64) }

    /// A label as a file-name part: letters, digits, '-' and '_' kept, anything else (a '/' in "stop/yield") as '_'.
    static func fileSafe(_ label: String) -> String {
        String(label.unicodeScalars.map { c -> Character in
            CharacterSet.alphanumerics.contains(c) && c.isASCII || c == "-" || c == "_" ? Character(c) : "_"
        })
    }
}

/// The running state between batches.
struct RunState {
    var decoded = 0
    var predicted = 0
    var explained = 0
    var bars: [ActionBar] = []
    var active: [Bool]
    var heat: Overlay.HeatLayer?
    var caption: String?
    var activity: ActivityTracker
    var endSeconds = 0.0
    /// Set when the decoder failed after delivering frames (the file is kept as truncated).
    var decodeFailure: String?
    /// The overlay needs increasing timestamps; a jump back (a TS discontinuity, joined recordings) shifts the rest.
    private var lastWrittenPTS: Int64?
    private var lastWrittenDuration: Int64 = 1
    private var ptsShift: Int64 = 0
    var writerShiftNote: String?

    mutating func monotonicPTS(_ frame: VideoFrame) -> Int64 {
        var pts = frame.pts &+ ptsShift
        if let last = lastWrittenPTS, pts <= last {
            let fixed = last &+ max(lastWrittenDuration, 1)
            ptsShift = ptsShift &+ (fixed &- pts)
            pts = fixed
            if writerShiftNote == nil {
                writerShiftNote = "timestamps jump back at frame \(frame.index); the overlay continues them in order "
                    + "(actions.jsonl keeps the file's own pts)"
            }
        }
        lastWrittenPTS = pts
        lastWrittenDuration = frame.duration
        return pts
    }

    init(labels: [String]) {
        active = Array(repeating: false, count: labels.count)
        activity = ActivityTracker(labels: labels)
    }
}

enum DecodedItem: Sendable {
    case frame(VideoFrame)
    case failure(String)
}

/// Runs a VideoReader on its own thread, feeding the queue until the end, an error, or the consumer closing it.
final class DecoderThread: @unchecked Sendable {
    private let reader: VideoReader
    private let queue: FrameQueue<DecodedItem>
    private let elapsed = Mutex(0.0)
    private let done = DispatchSemaphore(value: 0)

    init(reader: VideoReader, queue: FrameQueue<DecodedItem>) {
        self.reader = reader
        self.queue = queue
    }

    /// Seconds spent inside the decoder (valid after join).
    var seconds: Double { elapsed.withLock { $0 } }

    func start() {
        let thread = Thread { [self] in
            var total = 0.0
            do {
                while true {
                    let t = Date()
                    let frame = try reader.next()
                    total += Date().timeIntervalSince(t)
                    guard let frame else { break }
                    if !queue.push(.frame(frame)) { break }
                }
            } catch {
                _ = queue.push(.failure("\(error)"))
            }
            elapsed.withLock { $0 = total }
            queue.close()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func join() { done.wait() }
}

public let snnaVersion = "0.3.0"

/// A run stopped on request (`VideoProcessor.shouldStop`); nothing of it was kept.
public struct PipelineCancelled: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "stopped on request" }
}
