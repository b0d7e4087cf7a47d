// Tests of the plain reference itself (Reference/): its backward against finite differences of its own forward,
// the positional interpolation against the spec's numbers, and the exact identities of reference §7.3.

import Foundation
import Testing
import SNNAKernels
@testable import SNNAModel

@Suite struct ReferenceSelfTests {
    typealias P = PlainReference

    struct Case {
        var name: String
        var model: ViTModel
        var image: ImageTensor
    }

    static func randomImage(height: Int, width: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededRandom(seed: seed)
        return ImageTensor(channels: 3, height: height, width: width,
                           data: (0..<(3 * height * width)).map { _ in rng.gaussian() })
    }

    static func noises(count: Int, like image: ImageTensor, sigma: Double, seed: UInt64) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            var buffer = [Float](repeating: 0, count: image.data.count)
            rng.fillGaussian(&buffer, sigma: Float(sigma))
            return buffer
        }
    }

    /// The three tiny shapes of the brief.
    static let cases: [Case] = [
        // Non-square 8×12 image: 2 rows × 3 cols of patches on a 3×3 grid, DINO interpolation.
        Case(name: "p4-d16-l3-h2-c3",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 3, gridSize: 3,
                                     seed: 11),
             image: randomImage(height: 8, width: 12, seed: 101)),
        // Patch 14, LayerScale, timm/DINOv2-style size interpolation, 28×42 → 2×3 patches on a 2×2 grid.
        Case(name: "p14-d24-l2-h3-ls-size",
             model: RandomModel.make(patchSize: 14, dim: 24, depth: 2, numHeads: 3, numClasses: 4, gridSize: 2,
                                     layerScale: true, positionalInterpolation: .size, seed: 12),
             image: randomImage(height: 28, width: 42, seed: 102)),
        // Head reads only the last 2 of 4 blocks; 12×12 image = 3×3 patches = the grid, so interpolation is skipped.
        Case(name: "p4-d16-l4-h2-nlast2",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 4, numHeads: 2, numClasses: 4, gridSize: 3,
                                     nLastBlocks: 2, seed: 13),
             image: randomImage(height: 12, width: 12, seed: 103)),
    ]

    // MARK: - Forward structure (what finite differences cannot see)

    @Test func patchEmbeddingReadsChannelRowColumnAndTokensAreRowMajor() {
        // Each output channel o of the patch embedding reads exactly one input position f(o) = 3·o of the flattened
        // (ch, y, x) patch; with zero bias, CLS and positions, token 1 + r·C + c must hold that pixel of patch (r, c).
        var model = RandomModel.make(patchSize: 4, dim: 16, depth: 1, numHeads: 2, numClasses: 2, gridSize: 3, seed: 3)
        let p = 4, dim = 16
        var w = Matrix(rows: dim, cols: 3 * p * p)
        for o in 0..<dim { w[o, 3 * o] = 1 }
        model.weights.patchEmbed = LinearWeights(weight: w, bias: [Float](repeating: 0, count: dim))
        model.weights.posEmbed = Matrix(rows: 1 + 9, cols: dim)
        model.weights.clsToken = [Float](repeating: 0, count: dim)
        let image = Self.randomImage(height: 8, width: 12, seed: 9)
        let fwd = P.forward(model: model, image: image)
        #expect(fwd.rows == 2 && fwd.cols == 3 && fwd.tokens == 7)
        for r in 0..<2 {
            for c in 0..<3 {
                for o in 0..<dim {
                    let f = 3 * o, ch = f / (p * p), y = (f % (p * p)) / p, x = f % p
                    #expect(fwd.embedded[1 + r * 3 + c][o] == Double(image[ch, p * r + y, p * c + x]))
                }
            }
        }
        #expect(fwd.embedded[0].allSatisfy { $0 == 0 })
    }

    @Test func headReadsFinalNormedClsOfTheLastBlocksInOrder() {
        let tc = Self.cases[2]   // depth 4, nLastBlocks 2: slots read blocks 2 and 3
        let m = tc.model, dim = m.config.dim
        let fwd = P.forward(model: m, image: tc.image)
        #expect(fwd.feature.count == 2 * dim)
        func lnF(_ x: [Double]) -> [Double] {
            let mu = x.reduce(0, +) / Double(x.count)
            let v = x.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(x.count)
            return x.indices.map { (x[$0] - mu) / (v + 1e-6).squareRoot() * Double(m.weights.norm.gamma[$0])
                + Double(m.weights.norm.beta[$0]) }
        }
        let f = lnF(fwd.blocks[2].output[0]) + lnF(fwd.blocks[3].output[0])
        for cls in 0..<m.config.numClasses {
            var y = Double(m.weights.head.bias[cls])
            for k in 0..<(2 * dim) { y += Double(m.weights.head.weight[cls, k]) * f[k] }
            #expect(abs(y - fwd.logits[cls]) < 1e-12)
        }
        // Attention rows are softmax(q·k/√d_h) and sum to one; values carry the value bias.
        let dh = Double(dim / m.config.numHeads)
        for (l, b) in fwd.blocks.enumerated() {
            for h in 0..<m.config.numHeads {
                for i in 0..<fwd.tokens {
                    let logits = (0..<fwd.tokens).map { j in
                        zip(b.q[h][i], b.k[h][j]).map { $0 * $1 }.reduce(0, +) / dh.squareRoot() }
                    let z = logits.map { exp($0) }.reduce(0, +)
                    for j in 0..<fwd.tokens { #expect(abs(fwd.attention[l][h][i][j] - exp(logits[j]) / z) < 1e-14) }
                }
            }
        }
        #expect(abs(P.gelu(1) - 0.8413447460685429) < 1e-15)          // exact erf form, not the tanh one
        #expect(abs(P.gelu(-1) - (-0.15865525393145707)) < 1e-15)
    }

    // MARK: - Backward vs finite differences

    @Test(arguments: [0, 1, 2])
    func attentionGradientsMatchCentralDifferences(caseIndex: Int) {
        let tc = Self.cases[caseIndex]
        let model = tc.model
        let clean = P.forward(model: model, image: tc.image)
        let n = clean.tokens, heads = model.config.numHeads
        #expect(n == 7 || n == 10)
        // Explain the argmax and also a non-argmax class.
        for c in Set([P.argmax(clean.logits), model.config.numClasses - 1]).sorted() {
            let g = P.attentionGradients(model: model, image: tc.image, classIndex: c)
            #expect(g.count == model.config.depth)
            var largest = 0.0
            for l in 0..<model.config.depth {
                let entries = [(0, 0, 0), (0, 0, n - 1), (heads - 1, 0, 2), (0, 1, 3), (heads - 1, n - 1, 0),
                               (1 % heads, 2, 2), (heads - 1, 3, n - 2)]
                for (h, i, j) in entries {
                    let delta = 1e-5
                    let up = P.forward(model: model, image: tc.image, perturb: (l, h, i, j, delta)).logits[c]
                    let down = P.forward(model: model, image: tc.image, perturb: (l, h, i, j, -delta)).logits[c]
                    let fd = (up - down) / (2 * delta)
                    let an = g[l][h][i][j]
                    largest = max(largest, abs(an))
                    #expect(abs(fd - an) <= 1e-6 * abs(an) + 1e-9,
                            "\(tc.name) class \(c) layer \(l) (h \(h), i \(i), j \(j)): fd \(fd) vs backward \(an)")
                }
            }
            // Not vacuous: the checked entries carry real gradient.
            #expect(largest > 1e-4, "\(tc.name): largest checked |G| \(largest)")
        }
    }

    @Test(arguments: [0, 1, 2])
    func lastLayerGradientHasOnlyRowZero(caseIndex: Int) {
        let tc = Self.cases[caseIndex]
        let fwd = P.forward(model: tc.model, image: tc.image)
        let g = P.attentionGradients(model: tc.model, image: tc.image, classIndex: P.argmax(fwd.logits))
        let last = g[g.count - 1]
        var rowZero = 0.0
        for h in last.indices {
            for i in last[h].indices {
                for j in last[h][i].indices {
                    if i == 0 { rowZero = max(rowZero, abs(last[h][i][j])) } else {
                        #expect(abs(last[h][i][j]) < 1e-12, "\(tc.name) G^L[\(h)][\(i)][\(j)] = \(last[h][i][j])")
                    }
                }
            }
        }
        #expect(rowZero > 1e-6)
        // Earlier layers are not row-0-only (the test above would be meaningless if everything were).
        let first = g[0]
        var offRow = 0.0
        for h in first.indices { for i in 1..<first[h].count { for x in first[h][i] { offRow = max(offRow, abs(x)) } } }
        #expect(offRow > 1e-8)
    }

    // MARK: - §1.3 positional interpolation

    @Test func dinoSourceCoordinatesMatchSpec() {
        let row0 = P.sourceCoordinate(index: 0, target: 45, grid: 28, mode: .dino)
        let row44 = P.sourceCoordinate(index: 44, target: 45, grid: 28, mode: .dino)
        let col0 = P.sourceCoordinate(index: 0, target: 80, grid: 28, mode: .dino)
        let col79 = P.sourceCoordinate(index: 79, target: 80, grid: 28, mode: .dino)
        #expect(abs(row0 - (-0.1895787)) < 1e-6)
        #expect(abs(row44 - 27.127495) < 1e-5)
        #expect(abs(col0 - (-0.3252185)) < 1e-6)
        #expect(abs(col79 - 27.290260) < 1e-5)
        // i₀ and t of the spec's table.
        #expect(Int(floor(row0)) == -1 && abs(row0 + 1 - 0.8104213) < 1e-6)
        #expect(Int(floor(col0)) == -1 && abs(col0 + 1 - 0.6747815) < 1e-6)
        // The size mode maps with G/R instead: row 44 → 27.189 (the value the spec warns is *not* DINO's).
        let sizeRow44 = P.sourceCoordinate(index: 44, target: 45, grid: 28, mode: .size)
        #expect(abs(sizeRow44 - (44.5 * 28 / 45 - 0.5)) < 1e-12)
        #expect(abs(sizeRow44 - 27.189) < 1e-3)
    }

    /// The cubic convolution kernel W(x) with A = −0.75, written piecewise in |x| (independent of the reference's form).
    static func keys(_ x: Double) -> Double {
        let a = -0.75, ax = abs(x)
        if ax <= 1 { return (a + 2) * ax * ax * ax - (a + 3) * ax * ax + 1 }
        if ax < 2 { return a * ax * ax * ax - 5 * a * ax * ax + 8 * a * ax - 4 * a }
        return 0
    }

    /// Σ_k W(src − tap_k)·clamp(tap_k): where a linear ramp lands after bicubic with clamped taps.
    static func effectiveCoordinate(_ src: Double, grid: Int) -> Double {
        let i0 = Int(floor(src))
        var s = 0.0
        for tap in (i0 - 1)...(i0 + 2) { s += keys(src - Double(tap)) * Double(min(max(tap, 0), grid - 1)) }
        return s
    }

    static func linearPositionModel(grid: Int, mode: PositionalInterpolation) -> (ViTModel, [Double], [Double], [Double]) {
        var model = RandomModel.make(patchSize: 8, dim: 4, depth: 1, numHeads: 1, numClasses: 2, gridSize: grid,
                                     positionalInterpolation: mode, seed: 5)
        let a = [0.3, -1.25, 0.0, 2.0], b = [0.7, 0.5, -0.125, 0.0], dd = [0.1, -2.0, 1.5, 0.0]
        for r in 0..<grid {
            for c in 0..<grid {
                for k in 0..<4 {
                    model.weights.posEmbed[1 + r * grid + c, k] = Float(a[k] * Double(r) + b[k] * Double(c) + dd[k])
                }
            }
        }
        return (model, a, b, dd)
    }

    @Test func bicubicOfLinearGridIsSeparableWithClampedTaps() {
        let g = 28
        let (model, a, b, dd) = Self.linearPositionModel(grid: g, mode: .dino)
        let out = P.interpolatePositions(model: model, rows: 45, cols: 80)
        #expect(out.count == 1 + 45 * 80)
        for k in 0..<4 { #expect(out[0][k] == Double(model.weights.posEmbed[0, k])) }
        // Weights sum to one at any fraction.
        for t in stride(from: 0.0, to: 1.0, by: 0.0625) {
            #expect(abs(P.bicubicWeights(t: t).reduce(0, +) - 1) < 1e-14)
            let w = P.bicubicWeights(t: t)
            for (k, x) in [t + 1, t, 1 - t, 2 - t].enumerated() { #expect(abs(w[k] - Self.keys(x)) < 1e-14) }
        }
        var interiorChecked = 0
        for r in 0..<45 {
            let sr = P.sourceCoordinate(index: r, target: 45, grid: g, mode: .dino)
            for c in 0..<80 {
                let sc = P.sourceCoordinate(index: c, target: 80, grid: g, mode: .dino)
                let er = Self.effectiveCoordinate(sr, grid: g), ec = Self.effectiveCoordinate(sc, grid: g)
                let interior = floor(sr) - 1 >= 0 && floor(sr) + 2 <= Double(g - 1)
                    && floor(sc) - 1 >= 0 && floor(sc) + 2 <= Double(g - 1)
                for k in 0..<4 {
                    let v = out[1 + r * 80 + c][k]
                    #expect(abs(v - (a[k] * er + b[k] * ec + dd[k])) < 1e-5)
                    if interior {
                        // A = −0.75 reproduces constants exactly but a linear ramp only to within the kernel's
                        // first-moment error |Σ w·offset − t| < 0.0482 grid units per axis (exact only for A = −0.5).
                        #expect(abs(v - (a[k] * sr + b[k] * sc + dd[k])) <= 0.0482 * (abs(a[k]) + abs(b[k])) + 1e-9)
                    }
                }
                if interior { interiorChecked += 1 }
            }
        }
        #expect(interiorChecked > 2000)
        // Clamped, not renormalized: output row 0 reads source rows (−2, −1, 0, 1) → (0, 0, 0, 1), so along a pure
        // row ramp it equals the weight of tap i₀+2 alone.
        let src0 = P.sourceCoordinate(index: 0, target: 45, grid: g, mode: .dino)
        let w0 = P.bicubicWeights(t: src0 - floor(src0))
        #expect(b[3] == 0 && dd[3] == 0)
        #expect(abs(out[1 + 0 * 80 + 40][3] - a[3] * w0[3]) < 1e-9)
    }

    @Test func interpolationIsIdentityOnTheNativeGrid() {
        for mode in PositionalInterpolation.allCases {
            for g in [2, 3, 5] {
                let model = RandomModel.make(patchSize: 4, dim: 8, depth: 1, numHeads: 2, numClasses: 2, gridSize: g,
                                             positionalInterpolation: mode, seed: UInt64(g))
                let out = P.interpolatePositions(model: model, rows: g, cols: g)
                #expect(out.count == 1 + g * g)
                for t in 0..<(1 + g * g) {
                    for k in 0..<8 { #expect(abs(out[t][k] - Double(model.weights.posEmbed[t, k])) < 1e-12) }
                }
            }
        }
        // .dino does not skip when only the token count or only the squareness matches: rows = G, cols ≠ G still
        // moves the row coordinates by the +0.1 trick.
        let (model, a, _, dd) = Self.linearPositionModel(grid: 6, mode: .dino)
        let out = P.interpolatePositions(model: model, rows: 6, cols: 7)
        let src = P.sourceCoordinate(index: 3, target: 6, grid: 6, mode: .dino)
        #expect(abs(src - 3) > 0.01)
        #expect(abs(out[1 + 3 * 7 + 0][3] - (a[3] * Self.effectiveCoordinate(src, grid: 6) + dd[3])) < 1e-6)
        // Nor when the token count matches but the grid is not square (R·C = G², R ≠ C): 4×9 on a 6×6 grid.
        for mode in PositionalInterpolation.allCases {
            let (m2, a2, b2, d2) = Self.linearPositionModel(grid: 6, mode: mode)
            let o2 = P.interpolatePositions(model: m2, rows: 4, cols: 9)
            #expect(o2.count == 1 + 36)
            for r in 0..<4 {
                let er = Self.effectiveCoordinate(P.sourceCoordinate(index: r, target: 4, grid: 6, mode: mode), grid: 6)
                for c in 0..<9 {
                    let ec = Self.effectiveCoordinate(P.sourceCoordinate(index: c, target: 9, grid: 6, mode: mode), grid: 6)
                    for k in 0..<4 { #expect(abs(o2[1 + r * 9 + c][k] - (a2[k] * er + b2[k] * ec + d2[k])) < 1e-5) }
                }
            }
        }
    }

    // MARK: - §4 methods

    @Test func rolloutRowSumIsTwo() {
        for tc in Self.cases {
            let fwd = P.forward(model: tc.model, image: tc.image)
            let byRowSum = P.rolloutLayerMatrices(forward: fwd)
            let byTwo = P.rolloutLayerMatrices(forward: fwd, divideByTwo: true)
            for l in byRowSum.indices {
                for i in byRowSum[l].indices {
                    for j in byRowSum[l][i].indices { #expect(abs(byRowSum[l][i][j] - byTwo[l][i][j]) < 1e-15) }
                }
            }
            let a = P.rollout(model: tc.model, image: tc.image)
            let b = P.rollout(model: tc.model, image: tc.image, divideByTwo: true)
            for j in a.indices { #expect(abs(a[j] - b[j]) <= 1e-13 * abs(a[j]) + 1e-15) }
            // The full chain is row-stochastic, so rollout's CLS row sums to 1 with its CLS entry.
            let j = P.rolloutMatrix(forward: fwd)
            #expect(abs(j[0].reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test(arguments: [0, 1, 2])
    func everyMethodReturnsRowsTimesColsFiniteValues(caseIndex: Int) {
        let tc = Self.cases[caseIndex]
        let m = tc.model, x = tc.image
        let fwd = P.forward(model: m, image: x)
        let count = fwd.rows * fwd.cols
        let noise = Self.noises(count: 2, like: x, sigma: P.noiseSigma(image: x), seed: 77)
        let maps: [(String, [Double])] = [
            ("rawAtt", P.rawAtt(model: m, image: x)),
            ("rollout", P.rollout(model: m, image: x)),
            ("gradient", P.gradient(model: m, image: x)),
            ("attGrad", P.attGrad(model: m, image: x)),
            ("genericAtt", P.genericAtt(model: m, image: x)),
            ("normAtt row", P.normAtt(model: m, image: x, valueNorm: .row)),
            ("normAtt column", P.normAtt(model: m, image: x, valueNorm: .column)),
            ("attIG", P.attIG(model: m, image: x, steps: 4)),
            ("smoothGrad", P.smoothGrad(model: m, image: x, noises: noise)),
            ("snna row", P.snna(model: m, image: x, noises: noise, valueNorm: .row)),
            ("snna column", P.snna(model: m, image: x, noises: noise, valueNorm: .column)),
        ]
        for (name, a) in maps {
            #expect(a.count == count, "\(tc.name) \(name)")
            #expect(a.allSatisfy { $0.isFinite }, "\(tc.name) \(name)")
            #expect(a.contains { $0 != 0 }, "\(tc.name) \(name) is all zero")
        }
        // Row and column value-norm weighting are different methods.
        #expect(maps[5].1 != maps[6].1)
    }

    @Test(arguments: [0, 1, 2])
    func snnaWithZeroNoiseIsNormAttTimesCleanLastLayerMask(caseIndex: Int) {
        let tc = Self.cases[caseIndex]
        let m = tc.model, x = tc.image
        let c = P.argmax(P.forward(model: m, image: x).logits)
        let zeros = [[Float]](repeating: [Float](repeating: 0, count: x.data.count), count: 3)
        let g = P.attentionGradients(model: m, image: x, classIndex: c)
        let last = g[g.count - 1]
        let heads = Double(last.count)
        for mode in [P.ValueNorm.row, .column] {
            let snna = P.snna(model: m, image: x, noises: zeros, valueNorm: mode)
            let norm = P.normAtt(model: m, image: x, classIndex: c, valueNorm: mode)
            for j in snna.indices {
                var mask = 0.0
                for h in last.indices { mask += max(last[h][0][j + 1], 0) }
                mask /= heads
                let expected = norm[j] * mask
                #expect(abs(snna[j] - expected) <= 1e-12 * abs(expected) + 1e-15)
            }
        }
        // The same identity for SmoothGrad (GenericAtt chain) and for AttIG with a single α = 0 step being the
        // fully dimmed input (not the clean one).
        let sg = P.smoothGrad(model: m, image: x, noises: zeros)
        let generic = P.genericAtt(model: m, image: x, classIndex: c)
        for j in sg.indices {
            var mask = 0.0
            for h in last.indices { mask += max(last[h][0][j + 1], 0) }
            #expect(abs(sg[j] - generic[j] * mask / heads) <= 1e-12 * abs(sg[j]) + 1e-15)
        }
        let ig1 = P.attIG(model: m, image: x, steps: 1)
        let gDark = P.attentionGradients(model: m, image: x, classIndex: c, scaleInput: 0)
        let lastDark = gDark[gDark.count - 1]
        for j in ig1.indices {
            var mask = 0.0
            for h in lastDark.indices { mask += max(lastDark[h][0][j + 1], 0) }
            #expect(abs(ig1[j] - generic[j] * mask / heads) <= 1e-12 * abs(ig1[j]) + 1e-15)
        }
    }

    @Test(arguments: [0, 1, 2])
    func fullChainsEqualRowVectorChains(caseIndex: Int) {
        // §7.3 S1: e₀ᵀ(M_L⋯M_1) = ((e₀ᵀM_L)M_{L−1})⋯M_1. Catches a chain multiplied in the wrong order.
        let tc = Self.cases[caseIndex]
        let pass = P.cleanPass(model: tc.model, image: tc.image, classIndex: nil)
        let n = pass.forward.tokens
        func rowTimes(_ r: [Double], _ m: [[Double]]) -> [Double] {
            (0..<n).map { j in (0..<n).reduce(0.0) { $0 + r[$1] * m[$1][j] } }
        }
        var e0 = [Double](repeating: 0, count: n)
        e0[0] = 1
        for mode in [P.ValueNorm.row, .column] {
            var r = e0
            for cam in P.normAttCams(model: tc.model, pass: pass, valueNorm: mode).reversed() { r = rowTimes(r, cam) }
            let full = P.normAttMatrix(model: tc.model, pass: pass, valueNorm: mode)[0]
            for j in 0..<n { #expect(abs(r[j] - full[j]) <= 1e-12 * abs(full[j]) + 1e-15) }
        }
        var r = e0
        for cam in P.attGradCams(pass: pass).reversed() {
            let rc = rowTimes(r, cam)
            r = (0..<n).map { r[$0] + rc[$0] }
        }
        let generic = P.genericAttMatrix(pass: pass)[0]
        for j in 0..<n { #expect(abs(r[j] - generic[j]) <= 1e-12 * abs(generic[j]) + 1e-15) }
        var rr = e0
        for a in P.rolloutLayerMatrices(forward: pass.forward).reversed() { rr = rowTimes(rr, a) }
        let rollout = P.rolloutMatrix(forward: pass.forward)[0]
        for j in 0..<n { #expect(abs(rr[j] - rollout[j]) <= 1e-12 * abs(rollout[j]) + 1e-15) }
    }

    @Test(arguments: [0, 1, 2])
    func valueNormsEqualGramForm(caseIndex: Int) {
        // §7.3 S5: ‖W_O^(h) v‖² = vᵀ(W_O^(h)ᵀW_O^(h))v, with W_O^(h) the head's column slice of W_proj.
        let tc = Self.cases[caseIndex]
        let fwd = P.forward(model: tc.model, image: tc.image)
        let nu = P.valueNorms(model: tc.model, forward: fwd)
        let dim = tc.model.config.dim, heads = tc.model.config.numHeads, dh = dim / heads
        for (l, block) in tc.model.weights.blocks.enumerated() {
            let wp = block.proj.weight
            for h in 0..<heads {
                var gram = [[Double]](repeating: [Double](repeating: 0, count: dh), count: dh)
                for a in 0..<dh {
                    for b in 0..<dh {
                        for o in 0..<dim { gram[a][b] += Double(wp[o, h * dh + a]) * Double(wp[o, h * dh + b]) }
                    }
                }
                for t in 0..<fwd.tokens {
                    let v = fwd.values[l][h][t]
                    var q = 0.0
                    for a in 0..<dh { for b in 0..<dh { q += v[a] * gram[a][b] * v[b] } }
                    #expect(abs(nu[l][h][t] - max(q, 0).squareRoot()) <= 1e-12 * nu[l][h][t] + 1e-15)
                }
            }
        }
    }

    @Test func argmaxTiesGoToLowestIndex() {
        #expect(P.argmax([0.5, 2, 2, -1]) == 1)
        #expect(P.argmax([-3, -3]) == 0)
        #expect(P.argmax([1, 0, 4]) == 2)
    }
}
