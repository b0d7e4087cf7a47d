import SNNAKernels

/// The paper's second stage (reference §6.2): a linear multi-label head on frozen backbone features, trained with
/// BCE-with-logits (mean over batch × classes), SGD with momentum 0.9 and no weight decay, lr = base_lr · batch/256
/// with a cosine schedule to 0 stepped per epoch, weights initialised N(0, 0.01²) and bias 0. With `flipped` features
/// each training sample is replaced by its horizontally flipped picture half of the time (labels already swapped by
/// the caller: turn left ↔ turn right, project decision §9.7).
public enum HeadFitter {
    public struct Options: Sendable {
        public var epochs = 100
        public var baseLearningRate: Float = 1e-3
        public var batch = 64
        public var momentum: Float = 0.9
        /// L2 weight decay as PyTorch's SGD applies it (added to the weight gradient, not to the bias); the paper
        /// uses none, which is the default.
        public var weightDecay: Float = 0
        /// Fit on features standardized per dimension (mean 0, variance 1 over the training set) and fold the
        /// standardization back into the weights and bias, so the result is the same kind of head on the raw
        /// features. Only a preconditioner: SGD on the raw final-normed CLS tokens, whose dimensions differ in
        /// scale by orders of magnitude (DINOv2's LayerNorm gains), converges far more slowly. Off by default (the paper).
        public var standardize = false
        public var seed: UInt64 = 0
        public init() {}
    }

    public enum AccuracyRule: String, Sendable {
        /// Per label, active when the sigmoid probability ≥ 0.5 (logit ≥ 0): the project's rule.
        case sigmoid
        /// The authors' training script: active when the raw logit > 0.5.
        case authors
    }

    public struct Result: Sendable {
        public var weight: [Float]   // C × F
        public var bias: [Float]     // C
        public var lossPerEpoch: [Double]
    }

    /// Mean over samples of the fraction of labels predicted right (multi-label accuracy), in [0, 1].
    public static func accuracy(logits: [[Float]], labels: [[Float]], rule: AccuracyRule) -> Double {
        guard !logits.isEmpty else { return 0 }
        var total = 0.0
        for (z, y) in zip(logits, labels) {
            var right = 0
            for (zi, yi) in zip(z, y) {
                let predicted = rule == .sigmoid ? zi >= 0 : zi > 0.5
                if predicted == (yi >= 0.5) { right += 1 }
            }
            total += Double(right) / Double(z.count)
        }
        return total / Double(logits.count)
    }

    /// Per label, the fraction of samples whose label is predicted right.
    public static func labelAccuracy(logits: [[Float]], labels: [[Float]], rule: AccuracyRule) -> [Double] {
        guard let c = logits.first?.count else { return [] }
        var right = [Int](repeating: 0, count: c)
        for (z, y) in zip(logits, labels) {
            for k in 0..<c where (rule == .sigmoid ? z[k] >= 0 : z[k] > 0.5) == (y[k] >= 0.5) { right[k] += 1 }
        }
        return right.map { Double($0) / Double(logits.count) }
    }

    public static func logits(_ features: [[Float]], weight: [Float], bias: [Float]) -> [[Float]] {
        let c = bias.count
        return features.map { x in
            (0..<c).map { k in
                var s = bias[k]
                let row = k * x.count
                for j in x.indices { s += weight[row + j] * x[j] }
                return s
            }
        }
    }

    /// Mean BCE-with-logits over samples × classes, computed stably.
    public static func loss(logits: [[Float]], labels: [[Float]]) -> Double {
        var total = 0.0, count = 0
        for (z, y) in zip(logits, labels) {
            for (zi, yi) in zip(z, y) {
                let z = Double(zi), y = Double(yi)
                total += max(z, 0) - z * y + log1p(exp(-abs(z)))
                count += 1
            }
        }
        return count > 0 ? total / Double(count) : 0
    }

    public static func fit(features: [[Float]], labels: [[Float]], flipped: [[Float]]? = nil,
                           flippedLabels: [[Float]]? = nil, options: Options = Options()) -> Result {
        guard options.standardize, let f = features.first?.count else {
            return fitRaw(features: features, labels: labels, flipped: flipped, flippedLabels: flippedLabels, options: options)
        }
        // Mean and standard deviation per dimension over every picture training may see (mirrors included).
        let all = features + (flipped ?? [])
        var mean = [Double](repeating: 0, count: f), square = [Double](repeating: 0, count: f)
        for x in all { for j in 0..<f { mean[j] += Double(x[j]); square[j] += Double(x[j]) * Double(x[j]) } }
        let n = Double(all.count)
        let mu = mean.map { $0 / n }
        let sigma = (0..<f).map { j in max((square[j] / n - mu[j] * mu[j]).squareRoot(), 1e-6) }
        func standardized(_ rows: [[Float]]) -> [[Float]] {
            rows.map { x in (0..<f).map { j in Float((Double(x[j]) - mu[j]) / sigma[j]) } }
        }
        var result = fitRaw(features: standardized(features), labels: labels, flipped: flipped.map(standardized),
                            flippedLabels: flippedLabels, options: options)
        // w·(x − μ)/σ + b = (w/σ)·x + (b − Σ w μ/σ).
        let c = result.bias.count
        for k in 0..<c {
            var shift = 0.0
            for j in 0..<f {
                let w = Double(result.weight[k * f + j]) / sigma[j]
                result.weight[k * f + j] = Float(w)
                shift += w * mu[j]
            }
            result.bias[k] = Float(Double(result.bias[k]) - shift)
        }
        return result
    }

    static func fitRaw(features: [[Float]], labels: [[Float]], flipped: [[Float]]?, flippedLabels: [[Float]]?,
                       options: Options) -> Result {
        precondition(!features.isEmpty && features.count == labels.count)
        let n = features.count, f = features[0].count, c = labels[0].count
        var rng = SeededRandom(seed: options.seed)
        var weight = (0..<(c * f)).map { _ in 0.01 * rng.gaussian() }
        var bias = [Float](repeating: 0, count: c)
        var velocityW = [Float](repeating: 0, count: c * f), velocityB = [Float](repeating: 0, count: c)
        let baseLR = options.baseLearningRate * Float(options.batch) / 256
        var losses: [Double] = []
        for epoch in 0..<options.epochs {
            let lr = baseLR * Float((1 + cos(Double.pi * Double(epoch) / Double(options.epochs))) / 2)
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            var epochLoss = 0.0
            for start in stride(from: 0, to: n, by: options.batch) {
                let idx = order[start..<min(n, start + options.batch)]
                var xs: [[Float]] = [], ys: [[Float]] = []
                for i in idx {
                    if let flipped, let flippedLabels, rng.next() & 1 == 1 {
                        xs.append(flipped[i]); ys.append(flippedLabels[i])
                    } else {
                        xs.append(features[i]); ys.append(labels[i])
                    }
                }
                let z = logits(xs, weight: weight, bias: bias)
                epochLoss += loss(logits: z, labels: ys) * Double(xs.count)
                // dL/dz = (σ(z) − y) / (B·C).
                let scale = 1 / Float(xs.count * c)
                var gradW = [Float](repeating: 0, count: c * f), gradB = [Float](repeating: 0, count: c)
                for (x, (zr, yr)) in zip(xs, zip(z, ys)) {
                    for k in 0..<c {
                        let g = (1 / (1 + Float(exp(Double(-zr[k])))) - yr[k]) * scale
                        gradB[k] += g
                        let row = k * f
                        for j in 0..<f { gradW[row + j] += g * x[j] }
                    }
                }
                for i in weight.indices {
                    velocityW[i] = options.momentum * velocityW[i] + gradW[i] + options.weightDecay * weight[i]
                    weight[i] -= lr * velocityW[i]
                }
                for k in 0..<c {
                    velocityB[k] = options.momentum * velocityB[k] + gradB[k]
                    bias[k] -= lr * velocityB[k]
                }
            }
            losses.append(epochLoss / Double(n))
        }
        return Result(weight: weight, bias: bias, lossPerEpoch: losses)
    }
}

#if canImport(Glibc)
import Glibc
#endif
