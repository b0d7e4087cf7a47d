import Testing
import SNNAKernels
@testable import SNNAModel

/// The backward's G^l = ∂y_c/∂A^l (post-softmax, A a free leaf) against finite differences of the engine's own
/// forward, for every layer, on models of several shapes.
@Suite struct AttentionGradientTests {
    struct Probe { let layer, head, row, col: Int }

    /// Captures G for the requested entries while the backward streams.
    func analyticGradients(_ engine: ViTEngine, _ image: ImageTensor, target: Int, probes: [Probe]) throws -> [Float] {
        let trace = try engine.trace(image)
        var found = [Float?](repeating: nil, count: probes.count)
        _ = engine.backward(trace, target: target, reductions: []) { view in
            for (k, p) in probes.enumerated() where p.layer == view.layer && p.head == view.head
                && p.row >= view.firstRow && p.row < view.firstRow + view.rows {
                found[k] = view.gradient![(p.row - view.firstRow) * view.tokens + p.col]
            }
        }
        return found.map { $0! }
    }

    func logit(_ engine: ViTEngine, _ image: ImageTensor, target: Int, perturb p: Probe, by delta: Float) throws -> Double {
        let edit: AttentionEdit = { layer, head, firstRow, a, rows, tokens in
            if layer == p.layer && head == p.head && p.row >= firstRow && p.row < firstRow + rows {
                a[(p.row - firstRow) * tokens + p.col] += delta
            }
        }
        return Double(try engine.predict([image], attentionEdit: edit)[0][target])
    }

    @Test(arguments: TinyModels.cases)
    func everyLayerMatchesFiniteDifferences(_ c: TinyModels.Case) throws {
        let engine = try ViTEngine(model: c.model, attentionTileRows: 3)
        let cfg = c.model.config
        let n = 1 + (c.image.height / cfg.patchSize) * (c.image.width / cfg.patchSize)
        var probes: [Probe] = []
        for l in 0..<cfg.depth {
            for h in Set([0, cfg.numHeads - 1]) {
                let rows = l == cfg.depth - 1 ? [0] : [0, 1, n - 1]
                for i in rows { for j in Set([0, 1, n / 2, n - 1]) { probes.append(Probe(layer: l, head: h, row: i, col: j)) } }
            }
        }
        for target in 0..<cfg.numClasses {
            let analytic = try analyticGradients(engine, c.image, target: target, probes: probes)
            let delta: Float = 2e-3
            var numeric: [Double] = []
            for p in probes {
                let up = try logit(engine, c.image, target: target, perturb: p, by: delta)
                let down = try logit(engine, c.image, target: target, perturb: p, by: -delta)
                numeric.append((up - down) / (2 * Double(delta)))
            }
            let scale = max(numeric.map(abs).max()!, 1e-3)
            for (k, p) in probes.enumerated() {
                let err = abs(Double(analytic[k]) - numeric[k])
                #expect(err <= 0.02 * scale + 1e-4,
                        "\(c) class \(target) G[l\(p.layer) h\(p.head) \(p.row),\(p.col)]: analytic \(analytic[k]) numeric \(numeric[k])")
            }
            // The gradients probed must not all be ~0, or the comparison above proves nothing.
            #expect(scale > 1e-3)
        }
    }

    @Test func predictionsInABatchEqualOneByOne() throws {
        let c = TinyModels.cases[0]
        let engine = try ViTEngine(model: c.model, attentionTileRows: 3)
        let other = TinyModels.image(height: 9, width: 13, seed: 99)
        let small = TinyModels.image(height: 8, width: 8, seed: 98)
        let batch = try engine.predict([c.image, small, other])
        let single = try [c.image, small, other].map { try engine.predict([$0])[0] }
        for (b, s) in zip(batch, single) {
            for (x, y) in zip(b, s) { #expect(abs(x - y) <= 1e-5 * max(1, abs(y))) }
        }
        #expect(batch[0] != batch[2])
        // The traced forward computes the same logits as the inference forward.
        #expect(try engine.trace(c.image).logits == single[0])
    }

    @Test func tooSmallImagesAreRefused() throws {
        let engine = try ViTEngine(model: TinyModels.cases[1].model)  // patch 14
        #expect(throws: EngineError.self) { try engine.predict([TinyModels.image(height: 13, width: 40, seed: 1)]) }
        let cropped = try engine.cropToPatchMultiple(TinyModels.image(height: 29, width: 43, seed: 1))
        #expect(cropped.height == 28 && cropped.width == 42)
    }

    @Test func lastLayerGradientOfAnyInputEqualsTheFullBackward() throws {
        // §7.3 S4: the CLS-only path without a deep backward gives the same G^L row as the traced backward.
        for c in TinyModels.cases {
            let engine = try ViTEngine(model: c.model, attentionTileRows: 3)
            var noisy = c.image
            var rng = SeededRandom(seed: 5)
            for i in noisy.data.indices { noisy.data[i] += 0.7 * rng.gaussian() }
            let target = c.model.config.numClasses - 1
            let fast = try engine.lastLayerGradient(noisy, target: target)
            let full = engine.backward(try engine.trace(noisy), target: target, reductions: .all)
            #expect(fast.logits == full.logits)
            for (a, b) in zip(fast.gradient, full.lastLayerGradient) { #expect(abs(a - b) <= 1e-6 * max(1, abs(b))) }
        }
    }
}
