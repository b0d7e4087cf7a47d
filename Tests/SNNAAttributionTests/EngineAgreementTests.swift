import Testing
import SNNAKernels
@testable import SNNAAttribution
@testable import SNNAModel

/// The fast engine (float32, BLAS, row-vector chains, CLS-only last block, streamed backward, noisy passes without
/// a deep backward) against the plain Double reference (full N×N matrices, full backward, full chains), which shares
/// no code with it. Agreement criterion of reference §9.9: maps within 1e-3 of the map's max |value| per element,
/// logits within 1e-4 relative.
@Suite struct EngineAgreementTests {
    struct Case: CustomStringConvertible {
        let name: String
        let model: ViTModel
        let image: ImageTensor
        var description: String { name }
    }

    static func image(_ h: Int, _ w: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededRandom(seed: seed)
        return ImageTensor(channels: 3, height: h, width: w, data: (0..<(3 * h * w)).map { _ in rng.gaussian() })
    }

    static let cases: [Case] = [
        Case(name: "p4 d16 L3 H2, dino, 12×20 (3×5 grid)",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, seed: 31),
             image: image(12, 20, seed: 1)),
        Case(name: "p14 d24 L2 H3, LayerScale, size, 28×42",
             model: RandomModel.make(patchSize: 14, dim: 24, depth: 2, numHeads: 3, numClasses: 3, gridSize: 2,
                                     layerScale: true, positionalInterpolation: .size, seed: 32),
             image: image(28, 42, seed: 2)),
        Case(name: "p4 d16 L4 H4, nLast 2, 16×12 (crop from 18×13)",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 4, numHeads: 4, numClasses: 2, gridSize: 3,
                                     nLastBlocks: 2, seed: 33),
             image: image(18, 13, seed: 3)),
    ]

    /// The reference takes the cropped tensor; the engine crops by itself.
    func cropped(_ c: Case) -> ImageTensor {
        let p = c.model.config.patchSize
        return c.image.croppedTopLeft(height: c.image.height / p * p, width: c.image.width / p * p)
    }

    func expectMapsAgree(_ fast: [Float], _ reference: [Double], _ what: String) {
        #expect(fast.count == reference.count, "\(what): \(fast.count) values vs \(reference.count)")
        let scale = reference.map(abs).max() ?? 0
        #expect(scale > 0, "\(what): the reference map is all zero, the comparison would prove nothing")
        var worst = 0.0
        for (a, b) in zip(fast, reference) { worst = max(worst, abs(Double(a) - b)) }
        #expect(worst <= 1e-3 * scale, "\(what): max error \(worst) vs map max \(scale)")
    }

    @Test(arguments: cases)
    func logitsAgree(_ c: Case) throws {
        let fast = try ViTEngine(model: c.model, attentionTileRows: 5).predict([c.image])[0]
        let reference = PlainReference.forward(model: c.model, image: cropped(c)).logits
        for (a, b) in zip(fast, reference) { #expect(abs(Double(a) - b) <= 1e-4 * max(1, abs(b)), "\(a) vs \(b)") }
    }

    /// Every layer's streamed G (and the recomputed A) against the full backward; the CLS-only last layer against
    /// row 0 of the full last-layer gradient, whose other rows the reference shows to be zero.
    @Test(arguments: cases)
    func attentionAndGradientsOfEveryLayerAgree(_ c: Case) throws {
        let engine = try ViTEngine(model: c.model, attentionTileRows: 5)
        let image = cropped(c)
        let forward = PlainReference.forward(model: c.model, image: image)
        for target in 0..<c.model.config.numClasses {
            let g = PlainReference.attentionGradients(model: c.model, image: image, classIndex: target)
            var rowsSeen: [String: Int] = [:]
            _ = engine.backward(try engine.trace(c.image), target: target, reductions: []) { v in
                rowsSeen["\(v.layer)/\(v.head)", default: 0] += v.rows
                let gScale = g[v.layer][v.head].flatMap { $0 }.map(abs).max()!
                for i in 0..<v.rows {
                    let row = v.firstRow + i
                    for j in 0..<v.tokens {
                        let ga = Double(v.gradient![i * v.tokens + j]), gb = g[v.layer][v.head][row][j]
                        #expect(abs(ga - gb) <= 1e-3 * gScale + 1e-9, "G l\(v.layer) h\(v.head) [\(row),\(j)] \(ga) vs \(gb)")
                        let aa = Double(v.attention[i * v.tokens + j]), ab = forward.attention[v.layer][v.head][row][j]
                        #expect(abs(aa - ab) <= 1e-5, "A l\(v.layer) h\(v.head) [\(row),\(j)]")
                    }
                }
            }
            // Every head of every layer, all N rows of the full blocks and row 0 of the CLS-only last block.
            let cfg = c.model.config, n = forward.tokens
            #expect(rowsSeen.count == cfg.depth * cfg.numHeads)
            for (key, rows) in rowsSeen { #expect(rows == (key.hasPrefix("\(cfg.depth - 1)/") ? 1 : n), "\(key)") }
        }
    }

    func noises(_ image: ImageTensor, seed: UInt64, samples: Int, fraction: Float = 0.15) -> [[Float]] {
        var sampler = NoiseSampler(seed: seed, sigma: NoiseSampler.sigma(for: image.data, fraction: fraction))
        return (0..<samples).map { _ in sampler.next(count: image.data.count) }
    }

    @Test(arguments: cases)
    func everyMethodAgreesWithThePlainReference(_ c: Case) throws {
        let explainer = Explainer(engine: try ViTEngine(model: c.model, attentionTileRows: 5))
        let image = cropped(c)
        let seed: UInt64 = 77
        for target in [nil, 1] as [Int?] {
            let options = ExplanationOptions(target: target, samples: nil, steps: 20, seed: seed)
            let result = try explainer.explain(c.image, methods: ExplanationMethod.allCases, options: options)
            let reference = PlainReference.forward(model: c.model, image: image)
            let t = target ?? PlainReference.argmax(reference.logits)
            #expect(result.target == t)
            let m = c.model, who = "\(c) class \(t)"
            expectMapsAgree(result.map(.rawatt)!, PlainReference.rawAtt(model: m, image: image), "rawatt \(who)")
            expectMapsAgree(result.map(.rollout)!, PlainReference.rollout(model: m, image: image), "rollout \(who)")
            expectMapsAgree(result.map(.gradient)!, PlainReference.gradient(model: m, image: image, classIndex: t), "gradient \(who)")
            expectMapsAgree(result.map(.attgrad)!, PlainReference.attGrad(model: m, image: image, classIndex: t), "attgrad \(who)")
            expectMapsAgree(result.map(.genericatt)!, PlainReference.genericAtt(model: m, image: image, classIndex: t), "genericatt \(who)")
            expectMapsAgree(result.map(.normatt)!, PlainReference.normAtt(model: m, image: image, classIndex: t), "normatt \(who)")
            expectMapsAgree(result.map(.attig)!, PlainReference.attIG(model: m, image: image, classIndex: t, steps: 20), "attig \(who)")
            expectMapsAgree(result.map(.smoothgrad)!,
                            PlainReference.smoothGrad(model: m, image: image, classIndex: t,
                                                      noises: noises(image, seed: seed, samples: 25)), "smoothgrad \(who)")
            expectMapsAgree(result.map(.snna)!,
                            PlainReference.snna(model: m, image: image, classIndex: t,
                                                noises: noises(image, seed: seed, samples: 3)), "snna \(who)")
        }
    }

    @Test(arguments: cases)
    func columnValueNormsAgree(_ c: Case) throws {
        let explainer = Explainer(engine: try ViTEngine(model: c.model, attentionTileRows: 5))
        let image = cropped(c)
        let options = ExplanationOptions(samples: 5, seed: 5, valueNorm: .column)
        let result = try explainer.explain(c.image, methods: [.normatt, .snna], options: options)
        let t = result.target
        expectMapsAgree(result.map(.normatt)!,
                        PlainReference.normAtt(model: c.model, image: image, classIndex: t, valueNorm: .column), "normatt column")
        expectMapsAgree(result.map(.snna)!,
                        PlainReference.snna(model: c.model, image: image, classIndex: t,
                                            noises: noises(image, seed: 5, samples: 5), valueNorm: .column), "snna column")
        let row = try explainer.explain(c.image, methods: [.normatt], options: ExplanationOptions(seed: 5))
        #expect(row.map(.normatt)! != result.map(.normatt)!)
    }

    /// §7.3 S4: the noisy pass's last-layer gradient, with no deep backward, equals the full backward's on that input.
    @Test(arguments: cases)
    func noisyPassGradientEqualsTheFullBackward(_ c: Case) throws {
        let engine = try ViTEngine(model: c.model, attentionTileRows: 5)
        let image = cropped(c)
        let noise = noises(image, seed: 9, samples: 1)[0]
        var noisy = image
        for i in noisy.data.indices { noisy.data[i] += noise[i] }
        let target = 0
        let fast = try engine.lastLayerGradient(noisy, target: target).gradient
        let full = PlainReference.attentionGradients(model: c.model, image: image, classIndex: target, addNoise: noise)
        let last = c.model.config.depth - 1, n = fast.count / c.model.config.numHeads
        for h in 0..<c.model.config.numHeads {
            let row = full[last][h][0]
            let scale = row.map(abs).max()!
            for s in 0..<n { #expect(abs(Double(fast[h * n + s]) - row[s]) <= 1e-3 * scale + 1e-9) }
        }
    }
}
