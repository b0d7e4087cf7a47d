import Testing
import SNNAKernels
@testable import SNNAModel

/// The head and final-LayerNorm backward (reference §4.11, first step) against finite differences of the head.
@Suite struct HeadGradientTests {
    @Test func headSlotGradientMatchesFiniteDifferences() throws {
        let model = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 3, gridSize: 3, seed: 61)
        let engine = try ViTEngine(model: model)
        var rng = SeededRandom(seed: 2)
        let tokens = (0..<3).map { _ in (0..<16).map { _ in 2 * rng.gaussian() + 0.3 } }
        let slots = tokens.map { t in t.withUnsafeBufferPointer { engine.headSlot($0.baseAddress!) } }
        for target in 0..<3 {
            for k in 0..<3 {
                let analytic = engine.headSlotGradient(slots[k], target: target, slot: k).array
                for i in 0..<16 {
                    let eps: Float = 1e-2
                    func logit(_ delta: Float) -> Double {
                        var t = tokens
                        t[k][i] += delta
                        let s = t.map { v in v.withUnsafeBufferPointer { engine.headSlot($0.baseAddress!) } }
                        return Double(engine.headLogits(s)[target])
                    }
                    let numeric = (logit(eps) - logit(-eps)) / Double(2 * eps)
                    #expect(abs(Double(analytic[i]) - numeric) <= 2e-3 * max(1, abs(numeric)),
                            "class \(target) slot \(k) [\(i)]: \(analytic[i]) vs \(numeric)")
                }
            }
        }
    }

    @Test func logitsAreTheHeadOverFinalNormedCLSTokensOfTheLastBlocks() throws {
        // Independent of the engine's head code: recompute y = W·[LN_f(cls_k)] + b from the slots it recorded.
        let model = RandomModel.make(patchSize: 4, dim: 8, depth: 3, numHeads: 2, numClasses: 2, gridSize: 2,
                                     nLastBlocks: 2, seed: 62)
        let engine = try ViTEngine(model: model)
        var rng = SeededRandom(seed: 3)
        let image = ImageTensor(channels: 3, height: 8, width: 12, data: (0..<288).map { _ in rng.gaussian() })
        let trace = try engine.trace(image)
        #expect(trace.slots.count == 2)
        let w = model.weights
        for c in 0..<2 {
            var y = Double(w.head.bias[c])
            for (k, slot) in trace.slots.enumerated() {
                let x = slot.token.map(Double.init)
                let mean = x.reduce(0, +) / 8
                let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 8
                for j in 0..<8 {
                    let normed = (x[j] - mean) / (variance + 1e-6).squareRoot() * Double(w.norm.gamma[j]) + Double(w.norm.beta[j])
                    y += Double(w.head.weight[c, k * 8 + j]) * normed
                }
            }
            #expect(abs(Double(trace.logits[c]) - y) < 1e-5)
        }
    }
}
