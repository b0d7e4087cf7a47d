import Foundation
import Testing
import SNNAKernels
@testable import SNNAEvaluation
import SNNAModel

/// A tiny random ViT whose head is centred and scaled on the features of random pictures (logits ≈ N(0, 2²) across
/// pictures), so that masking moves logits across the decision thresholds.
func sensitiveModel(seed: UInt64 = 5, classes: Int = 4) -> ViTModel {
    var model = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: classes, gridSize: 4, seed: seed)
    let engine = try! ViTEngine(model: model)
    let features = try! engine.features((0..<24).map { randomImage(16, 24, seed: 5000 + UInt64($0)) })
    let f = features[0].count
    let mean = (0..<f).map { j in features.map { $0[j] }.reduce(0, +) / Float(features.count) }
    var w = model.weights.head.weight.data
    var bias = [Float](repeating: 0, count: classes)
    for k in 0..<classes {
        let row = Array(w[(k * f)..<((k + 1) * f)])
        let z = features.map { x in zip(row, zip(x, mean)).map { $0 * ($1.0 - $1.1) }.reduce(0, +) }
        let std = (z.map { $0 * $0 }.reduce(0, +) / Float(z.count)).squareRoot()
        let scale = 2 / max(std, 1e-6)
        for j in 0..<f { w[k * f + j] = row[j] * scale }
        bias[k] = -zip(row, mean).map { $0 * $1 }.reduce(0, +) * scale
    }
    model.weights.head.weight.data = w
    model.weights.head.bias = bias
    return model
}

func randomImage(_ h: Int, _ w: Int, seed: UInt64) -> ImageTensor {
    var rng = SeededRandom(seed: seed)
    return ImageTensor(channels: 3, height: h, width: w, data: (0..<(3 * h * w)).map { _ in rng.gaussian() })
}

func randomMap(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in Float(rng.uniformOpen()) }
}

@Suite struct EvaluationCurveTests {
    /// The curves of `Evaluation` against masked predictions built here by brute force: the top-k pixels of the
    /// bilinear map found by a full sort and overwritten with channel means computed here, the top-k tokens fed to
    /// the engine's token and attention masks (themselves checked against the plain reference in
    /// MaskedForwardTests), accuracies counted label by label.
    @Test(arguments: [EvaluationProtocol.paper, .referenceQuirks])
    func curvesEqualIndependentlyMaskedPredictions(_ protocolChoice: EvaluationProtocol) throws {
        let model = sensitiveModel()
        let engine = try ViTEngine(model: model)
        var settings = EvaluationSettings(evaluationProtocol: protocolChoice)
        settings.batch = 5
        let evaluation = Evaluation(engine: engine, settings: settings, methods: ["a", "b"])
        let rows = 4, cols = 6, p = 4, h = rows * p, w = cols * p
        let images = (0..<3).map { randomImage(h, w, seed: 100 + UInt64($0)) }
        let labels: [[Float]] = [[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]]
        let maps = (0..<3).map { i in ["a": randomMap(rows * cols, seed: UInt64(i)), "b": randomMap(rows * cols, seed: 50 + UInt64(i))] }
        for i in 0..<3 {
            // The bilinear variant is only a different picture; any tensor of the same size will do here.
            try evaluation.add(EvaluationSample(name: "\(i)", input: images[i], bilinearInput: images[(i + 1) % 3],
                                                labels: labels[i])) { _, _ in maps[i] }
        }
        let results = evaluation.results()
        let quirks = protocolChoice == .referenceQuirks
        var moved = false
        for kind in MaskKind.allCases {
            let levels = settings.levels[kind]!
            #expect(levels.count == 9 && abs(levels.last! - (kind == .token && quirks ? 0.1 : 0.2)) < 1e-12)
            var expected = ["a": [Double](repeating: 0, count: 9), "b": [Double](repeating: 0, count: 9)]
            var clean = 0.0
            for i in 0..<3 {
                let input = kind != .pixel && quirks ? images[(i + 1) % 3] : images[i]
                func accuracy(_ z: [Float]) -> Double {
                    var right = 0
                    for k in 0..<4 {
                        let on: Bool
                        if !quirks { on = z[k] >= 0 } else if kind == .pixel { on = z[k] > 0.5 } else {
                            let e = z.map { exp(Double($0)) }
                            on = e[k] / e.reduce(0, +) > 0.5
                        }
                        if on == (labels[i][k] == 1) { right += 1 }
                    }
                    return 25 * Double(right)
                }
                clean += accuracy(try engine.predict([input])[0]) / 3
                for m in ["a", "b"] {
                    let grid = maps[i][m]!
                    for (l, g) in levels.enumerated() {
                        let z: [Float]
                        switch kind {
                        case .pixel:
                            let up = bilinearUpsample(grid, rows: rows, cols: cols, factor: p)
                            let k = Int(g * Double(h * w))
                            let sortedDesc = up.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
                            var chosen = sortedDesc.prefix(k).map(\.offset)
                            if quirks { chosen = up.indices.filter { up[$0] > sortedDesc[k].element } }
                            var masked = input
                            for c in 0..<3 {
                                let plane = Array(input.data[(c * h * w)..<((c + 1) * h * w)])
                                let mean = Float(plane.reduce(0.0) { $0 + Double($1) } / Double(h * w))
                                let value: Float = quirks ? 0 : mean   // |channel means| < 1 here, so v = 0
                                for j in chosen { masked.data[c * h * w + j] = value }
                            }
                            z = try engine.predict([masked])[0]
                        case .token, .attention:
                            let k = Int((g * Double(rows * cols)).rounded(.toNearestOrEven))
                            let chosen = grid.enumerated().sorted { $0.element > $1.element }.prefix(k).map(\.offset)
                            let perturbation = kind == .token ? ForwardPerturbation(zeroedPatches: chosen)
                                : ForwardPerturbation(attentionMaskedTokens: chosen.map { $0 + 1 })
                            z = try engine.predict([input], perturbations: [perturbation])[0]
                        }
                        expected[m]![l] += accuracy(z) / 3
                    }
                }
            }
            let got = results.perturbation[kind.rawValue]!
            #expect(abs(got.cleanAccuracy - clean) < 1e-9, "\(kind): clean \(got.cleanAccuracy) vs \(clean)")
            for m in ["a", "b"] {
                for l in 0..<9 { #expect(abs(got.curves[m]![l] - expected[m]![l]) < 1e-9, "\(kind) \(m) level \(l)") }
                if expected[m]!.contains(where: { abs($0 - clean) > 1 }) { moved = true }
                #expect(abs(got.aupc[m]! - expected[m]!.reduce(0, +)) < 1e-9)
                if let logOdd = got.logOdd[m] ?? nil {
                    #expect(abs(logOdd - expected[m]!.reduce(0.0) { $0 + log($1 / clean) }) < 1e-9)
                } else {
                    #expect(expected[m]!.contains(0))
                }
            }
        }
        #expect(moved, "no mask changed any prediction: the comparison would prove nothing")
    }

    /// PyTorch's bilinear ×factor upsampling (align_corners false), written out per pixel.
    func bilinearUpsample(_ grid: [Float], rows: Int, cols: Int, factor: Int) -> [Float] {
        let h = rows * factor, w = cols * factor
        func taps(_ o: Int, _ n: Int) -> (Int, Int, Float) {
            let src = max(0, (Float(o) + 0.5) / Float(factor) - 0.5)
            let i0 = min(Int(src), n - 1)
            return (i0, min(i0 + 1, n - 1), src - Float(i0))
        }
        var out = [Float](repeating: 0, count: h * w)
        for y in 0..<h {
            let (r0, r1, ly) = taps(y, rows)
            for x in 0..<w {
                let (c0, c1, lx) = taps(x, cols)
                let top = (1 - lx) * grid[r0 * cols + c0] + lx * grid[r0 * cols + c1]
                let bottom = (1 - lx) * grid[r1 * cols + c0] + lx * grid[r1 * cols + c1]
                out[y * w + x] = (1 - ly) * top + ly * bottom
            }
        }
        return out
    }

    /// On a task whose decisive tokens are known — each token's effect on the target when it alone is masked,
    /// measured by occlusion — an oracle map ranking those first must lower the curves more than a random map, and a
    /// random map more than the adversarial (reversed) one: AUPC and LogOdd ordered oracle < random < adversarial.
    @Test func oracleBeatsRandomBeatsAdversarial() throws {
        let model = sensitiveModel(seed: 9)
        let engine = try ViTEngine(model: model)
        var settings = EvaluationSettings(masks: [.token, .attention])
        settings.batch = 16
        let evaluation = Evaluation(engine: engine, settings: settings, methods: ["oracle", "random", "adversarial"])
        let rows = 4, cols = 6
        for i in 0..<16 {
            let image = randomImage(rows * 4, cols * 4, seed: 700 + UInt64(i))
            try evaluation.add(EvaluationSample(name: "\(i)", input: image)) { input, target in
                let clean = try engine.predict([input])[0]
                let occluded = try engine.predict([ImageTensor](repeating: input, count: rows * cols),
                                                  perturbations: (0..<(rows * cols)).map { ForwardPerturbation(zeroedPatches: [$0]) })
                // Importance of a token: how far masking it alone moves the logits (the prediction's support).
                let oracle = occluded.map { z in zip(z, clean).map { abs($0 - $1) }.reduce(0, +) }
                return ["oracle": oracle, "adversarial": oracle.map { -$0 }, "random": randomMap(rows * cols, seed: 900 + UInt64(i) + UInt64(target))]
            }
        }
        let r = evaluation.results()
        for kind in ["token", "attention"] {
            let a = r.perturbation[kind]!.aupc
            #expect(a["oracle"]! < a["random"]!, "\(kind): \(a)")
            #expect(a["random"]! < a["adversarial"]!, "\(kind): \(a)")
        }
        let t = r.perturbation["token"]!.logOdd
        let oracleLogOdd: Double = (t["oracle"] ?? nil) ?? -.infinity   // −∞ when a level's accuracy reached 0
        let randomLogOdd: Double = (t["random"] ?? nil) ?? -.infinity
        let adversarialLogOdd: Double = (t["adversarial"] ?? nil) ?? -.infinity
        #expect(oracleLogOdd < randomLogOdd && randomLogOdd < adversarialLogOdd, "\(t)")
    }
}

@Suite struct EvaluationPieceTests {
    /// The selections of one map, ranked once (indices of the strict selection in increasing order).
    func top(_ map: [Float], count: Int) -> [Int] { Array(Selection.top(ranking: Selection.ranking(map), count: count)) }
    func strictlyAboveKth(_ map: [Float], count: Int) -> [Int] {
        Array(Selection.strictlyAboveKth(map, ranking: Selection.ranking(map), count: count)).sorted()
    }

    @Test func levelCountsMatchTheAuthorsScripts() {
        let pixels = EvaluationSettings.defaultLevels(.pixel, .paper).map {
            EvaluationSettings.count(level: $0, kind: .pixel, pixels: 360 * 640, tokens: 3600)
        }
        #expect(pixels == [5120, 10240, 15360, 20480, 25600, 30720, 35840, 40960, 46080])
        let tokens = EvaluationSettings.defaultLevels(.token, .referenceQuirks).map {
            EvaluationSettings.count(level: $0, kind: .token, pixels: 0, tokens: 3600)
        }
        #expect(tokens == Array(stride(from: 40, through: 360, by: 40)))
        let attention = EvaluationSettings.defaultLevels(.attention, .referenceQuirks).map {
            EvaluationSettings.count(level: $0, kind: .attention, pixels: 0, tokens: 3600)
        }
        #expect(attention == Array(stride(from: 80, through: 720, by: 80)))
        #expect(EvaluationSettings.defaultLevels(.token, .paper).last == 0.2)
    }

    @Test func selectionRules() {
        let map: [Float] = [0.5, 0.9, 0.5, 0.1, 0.9, 0.5]
        #expect(top(map, count: 3) == [1, 4, 0])
        // τ = value at sorted position 3 = 0.5: only the two 0.9 are strictly above, the tie at 0.5 shrinks the count.
        #expect(strictlyAboveKth(map, count: 3) == [1, 4])
        #expect(strictlyAboveKth(map, count: 5) == [0, 1, 2, 4, 5])
        #expect(top(map, count: 0).isEmpty && strictlyAboveKth(map, count: 0).isEmpty)
        #expect(strictlyAboveKth(map, count: 6) == [0, 1, 2, 3, 4, 5])
        // Every value tied: nothing is strictly above the k-th.
        #expect(strictlyAboveKth([Float](repeating: 1, count: 5), count: 2).isEmpty)
    }

    @Test func accuracyRules() {
        let z: [Float] = [0.2, -0.1, 3.0, 0.6]
        #expect(AccuracyRule.sigmoid.active(z) == [true, false, true, true])
        #expect(AccuracyRule.logitAboveHalf.active(z) == [false, false, true, true])
        // softmax: e^3 / (e^0.2 + e^-0.1 + e^3 + e^0.6) ≈ 0.80 > 0.5, the rest below.
        #expect(AccuracyRule.softmaxAboveHalf.active(z) == [false, false, true, false])
        #expect(AccuracyRule.softmaxAboveHalf.active([1, 1, 0, 0]) == [false, false, false, false])
        #expect(AccuracyRule.sigmoid.accuracy(z, reference: [true, true, true, false]) == 50)
    }

    /// The pixel script's stride-0 int64 mask: v = trunc(trunc(trunc(m_R)·m_G)·m_B).
    @Test func quirksReplacementValue() throws {
        let engine = try ViTEngine(model: sensitiveModel())
        let evaluation = Evaluation(engine: engine, settings: EvaluationSettings(), methods: ["a"])
        func image(_ means: [Float]) -> ImageTensor {
            ImageTensor(channels: 3, height: 2, width: 2, data: means.flatMap { m in [m - 1, m + 1, m - 0.5, m + 0.5] })
        }
        #expect(evaluation.pixelReplacement(image([0.5, 3, 2]), quirks: true) == [0, 0, 0])
        #expect(evaluation.pixelReplacement(image([1.5, 2.5, -1.2]), quirks: true) == [-2, -2, -2])
        #expect(evaluation.pixelReplacement(image([1.5, 2.5, -1.2]), quirks: false) == [1.5, 2.5, -1.2])
    }
}

@Suite struct LocalisationTests {
    /// Evaluation.localise picks the region of the explained (argmax) label, scores the bilinear-upsampled map
    /// against it, and counts samples whose argmax label has no region.
    @Test func evaluationLocalisesTheArgmaxLabelsRegion() throws {
        let model = sensitiveModel()
        let engine = try ViTEngine(model: model)
        let evaluation = Evaluation(engine: engine, settings: EvaluationSettings(masks: [.token]), methods: ["m"])
        let rows = 4, cols = 6, h = 16, w = 24
        var expected: [LocalisationScores] = []
        var expectedByLabel: [String: [LocalisationScores]] = [:]
        var skipped = 0
        for i in 0..<6 {
            let image = randomImage(h, w, seed: 300 + UInt64(i))
            let logits = try engine.predict([image])[0]
            let target = logits.indices.max { logits[$0] < logits[$1] }!
            // Two different regions: one for the argmax label (unless this sample is one without), one for another label.
            var argmaxRegion = [Bool](repeating: false, count: h * w), other = argmaxRegion
            for y in 0..<8 { for x in (i * 2)..<(i * 2 + 9) { argmaxRegion[y * w + x] = true } }
            for y in 8..<16 { for x in 0..<12 { other[y * w + x] = true } }
            var regions = [(target + 1) % 4: other]
            if i % 3 != 2 { regions[target] = argmaxRegion } else { skipped += 1 }
            let map = randomMap(rows * cols, seed: 77 + UInt64(i))
            if regions[target] != nil {
                let up = EvaluationCurveTests().bilinearUpsample(map, rows: rows, cols: cols, factor: 4)
                expected.append(LocalisationScores.measure(map: up, region: argmaxRegion, topFraction: 0.1))
                expectedByLabel[model.config.labels[target], default: []].append(expected.last!)
            }
            try evaluation.add(EvaluationSample(name: "\(i)", input: image, labels: [1, 0, 0, 1], regions: regions)) { _, t in
                #expect(t == target)
                return ["m": map]
            }
        }
        let loc = try #require(evaluation.results().localisation)
        #expect(loc.samples == expected.count && loc.samplesWithoutRegion == skipped && skipped == 2)
        let got = try #require(loc.methods["m"])
        let n = Double(expected.count)
        #expect(abs(got.pointingGame - expected.map(\.pointingHit).reduce(0, +) / n) < 1e-12)
        #expect(abs(got.energyInside - expected.map(\.energyInside).reduce(0, +) / n) < 1e-12)
        #expect(abs(got.iouTop - expected.map(\.topIoU).reduce(0, +) / n) < 1e-12)
        #expect(abs(loc.meanRegionArea - 72.0 / 384) < 1e-12)
        #expect(Set(loc.byLabel.keys) == Set(expectedByLabel.keys))
        for (label, scores) in expectedByLabel {
            let group = try #require(loc.byLabel[label])
            #expect(group.samples == scores.count)
            #expect(abs(group.methods["m"]!.energyInside - scores.map(\.energyInside).reduce(0, +) / Double(scores.count)) < 1e-12)
        }
    }
    /// A 4×4 map and a 2×2 region in its top-left corner, values worked out by hand.
    @Test func handComputedScores() {
        let map: [Float] = [
            4, 2, 0, 0,
            1, 3, 0, 0,
            0, 0, 1, 0,
            0, 0, 0, 1,
        ]
        var region = [Bool](repeating: false, count: 16)
        for i in [0, 1, 4, 5] { region[i] = true }
        // Max 4 at index 0: inside. Min-max: values / 4; inside (4+2+1+3)/4 = 2.5, total 12/4 = 3 → 5/6.
        // Top 25 % = 4 pixels: 4, 3, 2, then the first 1 (index 4): all inside, IoU 4/4.
        let s = LocalisationScores.measure(map: map, region: region, topFraction: 0.25)
        #expect(s.pointingHit == 1)
        #expect(abs(s.energyInside - 5.0 / 6.0) < 1e-12)
        #expect(s.topIoU == 1)
        // Top 50 % = 8 pixels: the 4 inside, the ones at 10 and 15, then two zeros at 2, 3 → 4 / (8 + 4 − 4) = 0.5.
        #expect(LocalisationScores.measure(map: map, region: region, topFraction: 0.5).topIoU == 0.5)
        // The region moved to the bottom-right corner: the max is outside; inside (1+0+0+1)/4 → 0.5 / 3.
        let other = (0..<16).map { [10, 11, 14, 15].contains($0) }
        let t = LocalisationScores.measure(map: map, region: other, topFraction: 0.25)
        #expect(t.pointingHit == 0)
        #expect(abs(t.energyInside - 0.5 / 3) < 1e-12)
        #expect(t.topIoU == 0)
        // A constant map is uniform: energy share = area share.
        #expect(abs(LocalisationScores.measure(map: [Float](repeating: 2, count: 16), region: region, topFraction: 0.1).energyInside - 0.25) < 1e-12)
    }
}
