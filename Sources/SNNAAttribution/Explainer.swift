import SNNAModel
import SNNAKernels

/// One explained image: the prediction and a map per method over the patch grid (raw values, row-major).
public struct ExplanationResult: Sendable {
    public var logits: [Float]
    public var target: Int
    public var seed: UInt64
    public var gridRows: Int
    public var gridCols: Int
    /// The network's input after the crop to a multiple of the patch, [height, width].
    public var inputHeight: Int
    public var inputWidth: Int
    /// In the order the methods were asked for.
    public var maps: [(method: ExplanationMethod, values: [Float])]

    public var probabilities: [Float] { logits.map { 1 / (1 + (-$0).exp) } }
    public func map(_ method: ExplanationMethod) -> [Float]? { maps.first { $0.method == method }?.values }
}

extension Float {
    fileprivate var exp: Float { Float(_exp(Double(self))) }
}

#if canImport(Glibc)
import Glibc
private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Foundation
private func _exp(_ x: Double) -> Double { Foundation.exp(x) }
#endif

/// Runs any set of methods on one image, sharing the clean forward and backward between them (reference §7.3 S8).
public struct Explainer: Sendable {
    public let engine: ViTEngine

    public init(engine: ViTEngine) { self.engine = engine }

    /// The argmax of the logits, ties to the lowest index (numpy's rule, §4.0).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }

    public func explain(_ image: ImageTensor, methods: [ExplanationMethod], options: ExplanationOptions = .init()) throws
        -> ExplanationResult {
        let c = engine.config
        let input = try engine.cropToPatchMultiple(image)
        if let t = options.target, !(0..<c.numClasses).contains(t) {
            throw EngineError("class \(t) is out of range 0…\(c.numClasses - 1)")
        }
        for m in methods where m.usesNoise && options.samples(for: m) < 1 {
            throw EngineError("\(m.rawValue) needs at least one noise sample")
        }
        if methods.contains(.attig) && options.steps < 1 { throw EngineError("attig needs at least one step") }
        if !(options.sigmaFraction >= 0 && options.sigmaFraction.isFinite) {
            throw EngineError("the noise fraction must be a finite number ≥ 0")
        }

        let trace = try engine.trace(input)
        let target = options.target ?? Explainer.argmax(trace.logits)
        let reductions = methods.reduce(into: AttentionReductions()) { $0.formUnion($1.reductions) }
        let summary = engine.backward(trace, target: target, reductions: reductions, valueNorm: options.valueNorm)

        // SNNA and SmoothGrad draw the same noise sequence from the seed, so their common samples are computed once.
        var noisy = NoisyGradients(engine: engine, input: input, target: target, options: options,
                                   clean: summary.lastLayerGradient)
        var maps: [(ExplanationMethod, [Float])] = []
        for method in methods {
            let values: [Float]
            switch method {
            case .rawatt: values = Attribution.rawAtt(summary)
            case .rollout: values = Attribution.rollout(summary)
            case .gradient: values = Attribution.gradient(summary)
            case .attgrad: values = Attribution.attGrad(summary)
            case .genericatt: values = Attribution.genericAtt(summary)
            case .normatt: values = Attribution.normAtt(summary)
            case .attig:
                // α = 1 is the clean input, whose gradient the clean pass already has.
                let grads = try Attribution.integrationSteps(options.steps).map { alpha in
                    alpha == 1 ? summary.lastLayerGradient
                        : try engine.lastLayerGradient(scaled(input, by: alpha), target: target).gradient
                }
                values = Attribution.attIG(summary, scaledGradients: grads, heads: c.numHeads)
            case .smoothgrad:
                values = Attribution.smoothGrad(summary, noisyGradients: try noisy.first(options.samples(for: method)),
                                                heads: c.numHeads)
            case .snna:
                values = Attribution.snna(summary, noisyGradients: try noisy.first(options.samples(for: method)),
                                          heads: c.numHeads)
            }
            maps.append((method, values))
        }
        return ExplanationResult(logits: trace.logits, target: target, seed: options.seed, gridRows: summary.gridRows,
                                 gridCols: summary.gridCols, inputHeight: input.height, inputWidth: input.width,
                                 maps: maps)
    }

    func scaled(_ input: ImageTensor, by alpha: Float) -> ImageTensor {
        var out = input
        for i in out.data.indices { out.data[i] *= alpha }
        return out
    }
}

/// G^L[h, 0, :] of x + ε_i for i = 1, 2, … with the same target (§4.9 step 6), computed on demand and kept, so a
/// method asking for m samples reuses those another method already drew from the same seed.
struct NoisyGradients {
    let engine: ViTEngine
    let input: ImageTensor
    let target: Int
    let clean: [Float]
    private var sampler: NoiseSampler
    private var computed: [[Float]] = []

    init(engine: ViTEngine, input: ImageTensor, target: Int, options: ExplanationOptions, clean: [Float]) {
        self.engine = engine
        self.input = input
        self.target = target
        self.clean = clean
        sampler = NoiseSampler(seed: options.seed, sigma: NoiseSampler.sigma(for: input.data, fraction: options.sigmaFraction))
    }

    mutating func first(_ m: Int) throws -> [[Float]] {
        // Without noise every sample is the clean input, whose gradient the clean pass already has.
        if sampler.sigma == 0 { return [clean] }
        while computed.count < m {
            var noisy = input
            let noise = sampler.next(count: input.data.count)
            for i in noisy.data.indices { noisy.data[i] += noise[i] }
            computed.append(try engine.lastLayerGradient(noisy, target: target).gradient)
        }
        return Array(computed.prefix(m))
    }
}
