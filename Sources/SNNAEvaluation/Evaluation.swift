import SNNAKernels
import SNNAMedia
import SNNAModel

/// Runs the perturbation tests (reference §5) and the localisation measures over samples, one at a time, keeping
/// only running sums: memory does not grow with the number of samples.
///
/// Per sample and input variant: the clean forward fixes the target (argmax of the clean logits, shared by all
/// methods), the caller's attribution closure gives one patch map per method for that target, and for every mask
/// kind, method and level the perturbed input is predicted (batched) and scored against the sample's labels, or
/// against the clean prediction when it has none.
public final class Evaluation {
    public let engine: ViTEngine
    public let settings: EvaluationSettings
    public let methods: [String]
    /// Maps an input and its target class to one rows×cols attribution map per method name.
    public typealias Attribute = (_ input: ImageTensor, _ target: Int) throws -> [String: [Float]]

    private var samples = 0
    private var labelled = 0
    private var cleanSums: [MaskKind: Double] = [:]
    private var curveSums: [MaskKind: [String: [Double]]] = [:]
    /// Running localisation sums over the samples of one group (all, or one explained label).
    struct LocalisationTally {
        var samples = 0
        var areaSum = 0.0
        var sums: [String: (pointing: Double, energy: Double, iou: Double)] = [:]

        mutating func add(area: Double, method: String, _ s: LocalisationScores) {
            let old = sums[method] ?? (0, 0, 0)
            sums[method] = (old.pointing + s.pointingHit, old.energy + s.energyInside, old.iou + s.topIoU)
        }

        func means(_ methods: [String]) -> [String: EvaluationResults.LocalisationMeans] {
            let k = Double(max(1, samples))
            var out: [String: EvaluationResults.LocalisationMeans] = [:]
            for m in methods {
                let s = sums[m] ?? (0, 0, 0)
                out[m] = .init(pointingGame: s.pointing / k, energyInside: s.energy / k, iouTop: s.iou / k)
            }
            return out
        }
    }

    /// Label names for the per-label localisation breakdown.
    public let labels: [String]
    private var localisation = LocalisationTally()
    private var localisationByLabel: [Int: LocalisationTally] = [:]
    private var regionMissing = 0
    private var forwards = 0

    public init(engine: ViTEngine, settings: EvaluationSettings, methods: [String], labels: [String]? = nil) {
        self.engine = engine
        self.labels = labels ?? engine.config.labels
        self.settings = settings
        self.methods = methods
        for kind in settings.masks {
            cleanSums[kind] = 0
            curveSums[kind] = Dictionary(uniqueKeysWithValues: methods.map { ($0, [Double](repeating: 0, count: settings.levels[kind]!.count)) })
        }
    }

    /// Evaluates one sample; the running sums change only when it succeeds.
    public func add(_ sample: EvaluationSample, attribute: Attribute) throws {
        let saved = (cleanSums, curveSums, localisation, localisationByLabel, regionMissing)
        do {
            try addUnsafely(sample, attribute: attribute)
        } catch {
            (cleanSums, curveSums, localisation, localisationByLabel, regionMissing) = saved
            throw error
        }
    }

    private func addUnsafely(_ sample: EvaluationSample, attribute: Attribute) throws {
        let bilinearKinds = settings.masks.filter { settings.usesBilinearResize($0) }
        let bicubicKinds = settings.masks.filter { !settings.usesBilinearResize($0) }
        var variants: [(input: ImageTensor, kinds: [MaskKind], localise: Bool)] = []
        if !bicubicKinds.isEmpty || !sample.regions.isEmpty {
            variants.append((sample.input, bicubicKinds, true))
        }
        if !bilinearKinds.isEmpty {
            guard let bilinear = sample.bilinearInput else {
                preconditionFailure("the \(settings.evaluationProtocol.rawValue) protocol needs the bilinear input of '\(sample.name)'")
            }
            variants.append((bilinear, bilinearKinds, false))
        }
        for variant in variants {
            let clean = try engine.predict([variant.input])[0]
            forwards += 1
            var target = 0
            for k in clean.indices where clean[k] > clean[target] { target = k }
            let maps = try attribute(variant.input, target)
            for m in methods where maps[m] == nil { preconditionFailure("no attribution map for method '\(m)'") }
            for kind in variant.kinds {
                let rule = settings.accuracyRule(kind)
                let reference = sample.labels.map { $0.map { $0 >= 0.5 } } ?? rule.active(clean)
                cleanSums[kind]! += rule.accuracy(clean, reference: reference)
                try perturb(kind: kind, input: variant.input, maps: maps, rule: rule, reference: reference)
            }
            if variant.localise { localise(sample: sample, target: target, maps: maps, input: variant.input) }
        }
        samples += 1
        if sample.labels != nil { labelled += 1 }
    }

    private func perturb(kind: MaskKind, input: ImageTensor, maps: [String: [Float]], rule: AccuracyRule,
                         reference: [Bool]) throws {
        let p = engine.config.patchSize
        let rows = input.height / p, cols = input.width / p
        let height = rows * p, width = cols * p
        let image = input.croppedTopLeft(height: height, width: width)
        let levels = settings.levels[kind]!
        let quirks = settings.evaluationProtocol == .referenceQuirks
        let pixels = height * width, tokens = rows * cols

        // Per method: the ranking of pixels or tokens, computed once and cut at each level.
        var orders: [String: (order: [Int], values: [Float])] = [:]
        for m in methods {
            let grid = maps[m]!
            precondition(grid.count == tokens, "map of '\(m)' has \(grid.count) values for a \(rows)×\(cols) grid")
            let values = kind == .pixel ? HeatmapResize.bilinear(grid, rows: rows, cols: cols, width: width, height: height) : grid
            orders[m] = (Selection.ranking(values), values)
        }
        let replacement = kind == .pixel ? pixelReplacement(image, quirks: quirks) : []

        var jobs: [(method: String, level: Int)] = []
        for m in methods { for l in levels.indices { jobs.append((m, l)) } }
        for start in stride(from: 0, to: jobs.count, by: max(1, settings.batch)) {
            let chunk = jobs[start..<min(jobs.count, start + max(1, settings.batch))]
            var inputs: [ImageTensor] = [], perturbations: [ForwardPerturbation] = []
            for job in chunk {
                let (order, values) = orders[job.method]!
                let count = EvaluationSettings.count(level: levels[job.level], kind: kind, pixels: pixels, tokens: tokens)
                // The authors' pixel script masks the values strictly above the count-th largest.
                let chosen = kind == .pixel && quirks ? Selection.strictlyAboveKth(values, ranking: order, count: count)
                    : Selection.top(ranking: order, count: count)
                switch kind {
                case .pixel:
                    var masked = image
                    for c in 0..<3 {
                        let plane = c * pixels, v = replacement[c]
                        for i in chosen { masked.data[plane + i] = v }
                    }
                    inputs.append(masked)
                    perturbations.append(.none)
                case .token:
                    inputs.append(image)
                    perturbations.append(ForwardPerturbation(zeroedPatches: Array(chosen)))
                case .attention:
                    inputs.append(image)
                    perturbations.append(ForwardPerturbation(attentionMaskedTokens: chosen.map { $0 + 1 }, attentionMaskLayer: 0))
                }
            }
            let logits = try engine.predict(inputs, perturbations: perturbations)
            forwards += inputs.count
            for (job, z) in zip(chunk, logits) {
                curveSums[kind]![job.method]![job.level] += rule.accuracy(z, reference: reference)
            }
        }
    }

    /// Paper: each channel's mean over the normalized picture. Reference quirks: the value the pixel script's
    /// stride-0 int64 mask ends up holding in every channel, v = trunc(trunc(trunc(m_R)·m_G)·m_B) (reference §5.1).
    func pixelReplacement(_ image: ImageTensor, quirks: Bool) -> [Float] {
        let plane = image.height * image.width
        let means = (0..<3).map { c -> Float in
            var s = 0.0
            for i in 0..<plane { s += Double(image.data[c * plane + i]) }
            return Float(s / Double(plane))
        }
        guard quirks else { return means }
        let v = Float(Int64(Float(Int64(Float(Int64(means[0])) * means[1])) * means[2]))
        return [v, v, v]
    }

    private func localise(sample: EvaluationSample, target: Int, maps: [String: [Float]], input: ImageTensor) {
        guard let region = sample.regions[target] else {
            if !sample.regions.isEmpty || sample.labels != nil { regionMissing += 1 }
            return
        }
        let p = engine.config.patchSize
        let rows = input.height / p, cols = input.width / p
        precondition(region.count == rows * p * cols * p, "region of '\(sample.name)' does not match the cropped input")
        let area = Double(region.filter { $0 }.count) / Double(region.count)
        localisation.samples += 1
        localisation.areaSum += area
        localisationByLabel[target, default: LocalisationTally()].samples += 1
        localisationByLabel[target]!.areaSum += area
        for m in methods {
            let up = HeatmapResize.bilinear(maps[m]!, rows: rows, cols: cols, width: cols * p, height: rows * p)
            let s = LocalisationScores.measure(map: up, region: region, topFraction: settings.iouTopFraction)
            localisation.add(area: area, method: m, s)
            localisationByLabel[target]!.add(area: area, method: m, s)
        }
    }

    public var sampleCount: Int { samples }
    public var forwardCount: Int { forwards }

    /// Mean curves, AUPC and LogOdd (reference §5.4 as decided in §9.6), localisation means.
    public func results() -> EvaluationResults {
        var r = EvaluationResults()
        r.evaluationProtocol = settings.evaluationProtocol.rawValue
        r.samples = samples
        r.accuracyReference = labelled == samples ? "labels" : (labelled == 0 ? "clean prediction" : "labels where given, else the clean prediction")
        r.methods = methods
        r.masks = settings.masks.map(\.rawValue)
        let n = Double(max(1, samples))
        for kind in settings.masks {
            let levels = settings.levels[kind]!
            var curves: [String: [Double]] = [:], aupc: [String: Double] = [:], logOdd: [String: Double?] = [:]
            let clean = cleanSums[kind]! / n
            for m in methods {
                let curve = curveSums[kind]![m]!.map { $0 / n }
                curves[m] = curve
                aupc[m] = curve.reduce(0, +)
                // Undefined (null) when some Ā_k = 0 (a −∞ term) or Ā₀ = 0 (a division by 0).
                logOdd[m] = (clean > 0 && !curve.contains(0)) ? curve.reduce(0.0) { $0 + log($1 / clean) } : nil
            }
            r.perturbation[kind.rawValue] = EvaluationResults.MaskResults(
                levels: levels, accuracyRule: settings.accuracyRule(kind).rawValue,
                resize: settings.usesBilinearResize(kind) ? "bilinear" : "bicubic",
                cleanAccuracy: clean, curves: curves, aupc: aupc, logOdd: logOdd)
        }
        if localisation.samples > 0 {
            var byLabel: [String: EvaluationResults.LabelLocalisation] = [:]
            for (k, tally) in localisationByLabel {
                let name = k < labels.count ? labels[k] : "class_\(k)"
                byLabel[name] = .init(samples: tally.samples, meanRegionArea: tally.areaSum / Double(tally.samples),
                                      methods: tally.means(methods))
            }
            r.localisation = .init(samples: localisation.samples, samplesWithoutRegion: regionMissing,
                                   meanRegionArea: localisation.areaSum / Double(localisation.samples),
                                   iouTopFraction: settings.iouTopFraction, methods: localisation.means(methods),
                                   byLabel: byLabel)
        }
        return r
    }
}

#if canImport(Glibc)
import Glibc
#endif
