import SNNAAttribution
import SNNAModel

/// Which classes an explained frame is explained for (reference §9.5).
public enum ExplainTarget: String, Sendable, Codable, CaseIterable {
    /// The argmax logit, as the authors do.
    case argmax
    /// Every action at or over its threshold (the argmax when none is).
    case active
}

/// Everything that decides what `snna process` (and, later, the daemon) does with one video. One typed struct, so a
/// command-line flag and a configuration key mean the same thing.
public struct ProcessSettings: Sendable, Codable, Equatable {
    public var predictStride: Int = 1
    public var explainStride: Int = 30
    public var method: ExplanationMethod = .snna
    public var explainTarget: ExplainTarget = .argmax
    public var samples: Int?
    /// Base seed; frame f is explained with seed + f, so every map is reproducible on its own.
    public var seed: UInt64 = 0
    /// An action is active when its sigmoid probability is at or over this (reference §9.4).
    public var threshold: Float = 0.5
    /// Per-action thresholds (label → probability) overriding `threshold`.
    public var thresholds: [String: Float] = [:]
    /// Short side frames are resized to (default: the model's input_short_side).
    public var shortSide: Int?
    public var writeVideo: Bool = true
    public var writeHeatmaps: Bool = false
    /// Frames predicted together (one GEMM per layer for the batch).
    public var batch: Int = 4
    /// Heat-map opacity over the picture in the overlay video.
    public var heatOpacity: Float = 0.5
    /// Frames larger than this (width × height) are refused before any large allocation (a crafted header must not
    /// make the decoder allocate gigabytes).
    public var maxFramePixels: Int = 8192 * 8192

    public init() {}

    enum CodingKeys: String, CodingKey {
        case predictStride = "predict_stride", explainStride = "explain_stride", method, explainTarget = "explain_target"
        case samples, seed, threshold, thresholds, shortSide = "short_side", writeVideo = "write_video"
        case writeHeatmaps = "write_heatmaps", batch, heatOpacity = "heat_opacity", maxFramePixels = "max_frame_pixels"
    }

    public init(from decoder: Decoder) throws {
        // Every key optional: a summary.json written before a key existed still reads.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ProcessSettings()
        predictStride = try c.decodeIfPresent(Int.self, forKey: .predictStride) ?? d.predictStride
        explainStride = try c.decodeIfPresent(Int.self, forKey: .explainStride) ?? d.explainStride
        method = try c.decodeIfPresent(ExplanationMethod.self, forKey: .method) ?? d.method
        explainTarget = try c.decodeIfPresent(ExplainTarget.self, forKey: .explainTarget) ?? d.explainTarget
        samples = try c.decodeIfPresent(Int.self, forKey: .samples)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        threshold = try c.decodeIfPresent(Float.self, forKey: .threshold) ?? d.threshold
        thresholds = try c.decodeIfPresent([String: Float].self, forKey: .thresholds) ?? d.thresholds
        shortSide = try c.decodeIfPresent(Int.self, forKey: .shortSide)
        writeVideo = try c.decodeIfPresent(Bool.self, forKey: .writeVideo) ?? d.writeVideo
        writeHeatmaps = try c.decodeIfPresent(Bool.self, forKey: .writeHeatmaps) ?? d.writeHeatmaps
        batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? d.batch
        heatOpacity = try c.decodeIfPresent(Float.self, forKey: .heatOpacity) ?? d.heatOpacity
        maxFramePixels = try c.decodeIfPresent(Int.self, forKey: .maxFramePixels) ?? d.maxFramePixels
    }

    /// The threshold of one action.
    public func threshold(for label: String) -> Float { thresholds[label] ?? threshold }

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw EngineError(message) } }
        try check(predictStride >= 1, "--predict-stride must be at least 1")
        try check(explainStride >= 0, "--explain-stride must be 0 (no explanations) or more")
        try check(samples.map { $0 >= 1 } ?? true, "--samples must be at least 1")
        try check(threshold > 0 && threshold < 1, "--threshold must be between 0 and 1")
        for (label, p) in thresholds { try check(p > 0 && p < 1, "the threshold of '\(label)' must be between 0 and 1") }
        try check(shortSide.map { $0 >= 1 && $0 <= ModelFile.maxInputShortSide } ?? true,
                  "--size must be in 1…\(ModelFile.maxInputShortSide)")
        try check(batch >= 1 && batch <= 32, "--batch must be in 1…32")
        try check(heatOpacity >= 0 && heatOpacity <= 1, "heat opacity must be in 0…1")
        try check(maxFramePixels >= 64 * 64, "max frame pixels must be at least 4096")
    }
}
