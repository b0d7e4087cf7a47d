import Foundation
import Testing
import SNNAKernels
@testable import SNNAModelImport

@Suite struct HeadFitterTests {
    @Test func accuracyRulesOnHandMadeValues() {
        let logits: [[Float]] = [[0.2, -1, 0.7, 3], [0.6, 0.4, -0.1, 0]]
        let labels: [[Float]] = [[1, 0, 1, 1], [1, 1, 0, 0]]
        // sigmoid rule (logit ≥ 0): sample 1 all right (4/4); sample 2: 1, 1, 0, 0 predicted 1,1,0,1 → 3/4.
        #expect(HeadFitter.accuracy(logits: logits, labels: labels, rule: .sigmoid) == (1 + 0.75) / 2)
        // authors' rule (logit > 0.5): sample 1 → 0,0,1,1 vs 1,0,1,1 → 3/4; sample 2 → 1,0,0,0 vs 1,1,0,0 → 3/4.
        #expect(HeadFitter.accuracy(logits: logits, labels: labels, rule: .authors) == 0.75)
    }

    @Test func lossIsTheMeanBinaryCrossEntropyWithLogits() {
        let z: [[Float]] = [[2, -1]], y: [[Float]] = [[1, 0]]
        let expected = (log(1 + exp(-2.0)) + log(1 + exp(-1.0))) / 2
        #expect(abs(HeadFitter.loss(logits: z, labels: y) - expected) < 1e-9)
        // Stable for large logits.
        #expect(HeadFitter.loss(logits: [[200]], labels: [[0]]) > 199)
    }

    /// A learnable multi-label task: label k is on when feature k is positive. SGD with momentum and the cosine
    /// schedule must drive the loss down and fit it; the flipped copies (features negated, labels swapped) are
    /// consistent with the same rule, so using them must not hurt.
    @Test(arguments: [false, true])
    func fitsALinearlySeparableTask(_ useFlips: Bool) {
        var rng = SeededRandom(seed: 3)
        let n = 200, f = 6, c = 3
        var features: [[Float]] = [], labels: [[Float]] = []
        for _ in 0..<n {
            let x = (0..<f).map { _ in rng.gaussian() }
            features.append(x)
            labels.append((0..<c).map { x[$0] > 0 ? 1 : 0 })
        }
        // "Flipped" samples: features 1 and 2 exchanged, and so are labels 1 and 2.
        let flipped = features.map { x -> [Float] in var y = x; y.swapAt(1, 2); return y }
        let flippedLabels = labels.map { l -> [Float] in var m = l; m.swapAt(1, 2); return m }
        var options = HeadFitter.Options()
        options.epochs = 60
        options.baseLearningRate = 40
        options.batch = 32
        let result = HeadFitter.fit(features: features, labels: labels, flipped: useFlips ? flipped : nil,
                                    flippedLabels: useFlips ? flippedLabels : nil, options: options)
        #expect(result.lossPerEpoch.last! < 0.5 * result.lossPerEpoch.first!, "\(result.lossPerEpoch)")
        let z = HeadFitter.logits(features, weight: result.weight, bias: result.bias)
        #expect(HeadFitter.accuracy(logits: z, labels: labels, rule: .sigmoid) > 0.95)
        // Same seed, same result.
        let again = HeadFitter.fit(features: features, labels: labels, flipped: useFlips ? flipped : nil,
                                   flippedLabels: useFlips ? flippedLabels : nil, options: options)
        #expect(again.weight == result.weight)
    }

    /// Weight decay as PyTorch's SGD: with zero features the data gradient of the weights vanishes, so one epoch of
    /// one batch multiplies every weight by exactly 1 − lr·wd (lr = base·batch/256 at epoch 0), and leaves the bias alone.
    @Test func weightDecayShrinksWeightsOnly() {
        let features = [[Float]](repeating: [0, 0, 0], count: 4), labels = [[Float]](repeating: [1, 0], count: 4)
        var options = HeadFitter.Options()
        options.epochs = 1
        options.batch = 4
        options.baseLearningRate = 64   // lr = 1
        let plain = HeadFitter.fit(features: features, labels: labels, options: options)
        options.weightDecay = 0.25
        let decayed = HeadFitter.fit(features: features, labels: labels, options: options)
        for (w, w0) in zip(decayed.weight, plain.weight) { #expect(abs(w - 0.75 * w0) <= 1e-7 * abs(w0) + 1e-12) }
        #expect(decayed.bias == plain.bias)
        #expect(plain.weight.contains { $0 != 0 })
    }

    /// --standardize: the fitted head, folded back to raw features, gives exactly the logits of the head fitted in
    /// standardized space (computed here independently) — and on badly scaled features it fits where plain SGD with
    /// the same learning rate cannot.
    @Test func standardizationIsFoldedExactly() {
        var rng = SeededRandom(seed: 11)
        let scales: [Float] = [100, 0.01, 5, 1, 30, 0.2]
        var features: [[Float]] = [], labels: [[Float]] = []
        for _ in 0..<160 {
            let z = (0..<6).map { _ in rng.gaussian() }
            features.append(zip(z, scales).map { $0 * $1 + 3 })
            labels.append([z[1] > 0 ? 1 : 0, z[0] + z[3] > 0 ? 1 : 0])
        }
        var options = HeadFitter.Options()
        options.epochs = 40
        options.batch = 16
        options.baseLearningRate = 8
        options.standardize = true
        let folded = HeadFitter.fit(features: features, labels: labels, options: options)
        let mean = (0..<6).map { j in features.map { Double($0[j]) }.reduce(0, +) / 160 }
        let std = (0..<6).map { j in (features.map { pow(Double($0[j]) - mean[j], 2) }.reduce(0, +) / 160).squareRoot() }
        let standardized = features.map { x in (0..<6).map { Float((Double(x[$0]) - mean[$0]) / std[$0]) } }
        options.standardize = false
        let inner = HeadFitter.fitRaw(features: standardized, labels: labels, flipped: nil, flippedLabels: nil, options: options)
        let a = HeadFitter.logits(features, weight: folded.weight, bias: folded.bias)
        let b = HeadFitter.logits(standardized, weight: inner.weight, bias: inner.bias)
        for (x, y) in zip(a.joined(), b.joined()) { #expect(abs(x - y) <= 1e-3 * max(1, abs(y)), "\(x) vs \(y)") }
        #expect(HeadFitter.accuracy(logits: a, labels: labels, rule: .sigmoid) > 0.95)
        let raw = HeadFitter.fit(features: features, labels: labels, options: options)
        let rawLogits = HeadFitter.logits(features, weight: raw.weight, bias: raw.bias)
        #expect(HeadFitter.loss(logits: rawLogits, labels: labels) > 2 * HeadFitter.loss(logits: a, labels: labels))
    }
}
