// A deliberately plain, slow reference of the ViT forward, its manual backward and every attribution method,
// written straight from docs/snna-reference.md (§1, §4, §7.3). It is the oracle the fast engine is tested against,
// so it shares no code with it: everything is Double precision, nested arrays and simple loops, full N×N matrices.
// Only tiny models are meant to go through it (N ≲ 50 tokens, dim ≲ 32).

import Foundation
import SNNAKernels
@testable import SNNAModel

enum PlainReference {
    typealias Mat = [[Double]]

    /// Which token's transformed-value norm scales the attention in NormAtt/SNNA (§4.6, §9.2).
    enum ValueNorm: Sendable { case row, column }

    /// Everything one block's forward produced, kept for the manual backward (§4.11).
    struct BlockTrace {
        var input: Mat               // X = z^{l-1}, N×D
        var xhat1: Mat               // normalized X (before γ1, β1)
        var rstd1: [Double]          // 1/√(var+eps) per token
        var q: [Mat]                 // [head] N×dh
        var k: [Mat]
        var v: [Mat]                 // includes the value bias
        var attention: [Mat]         // [head] N×N, post-softmax (plus the perturbation, if any)
        var u: Mat                   // U = X + ls1 ⊙ (O·W_projᵀ + b_proj)
        var xhat2: Mat
        var rstd2: [Double]
        var f1: Mat                  // pre-GELU, N×mlp
        var output: Mat              // z^l
    }

    struct PlainForward {
        var logits: [Double]
        /// [layer][head][i][j], post-softmax.
        var attention: [[[[Double]]]]
        /// [layer][head][token][k], including the value bias.
        var values: [[[[Double]]]]
        /// N = 1 + rows·cols.
        var tokens: Int
        var rows: Int
        var cols: Int
        /// z⁰ (N×D): CLS + patch embeddings with the interpolated positions added.
        var embedded: Mat
        var blocks: [BlockTrace]
        /// The classifier's input: concat of LN_f(CLS) of the last nLastBlocks blocks.
        var feature: [Double]
    }

    // MARK: - Small helpers (Double, plain loops)

    static func argmax(_ logits: [Double]) -> Int {
        precondition(!logits.isEmpty)
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }

    static func relu(_ x: Double) -> Double { x > 0 ? x : 0 }

    static func identity(_ n: Int) -> Mat {
        var m = Mat(repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { m[i][i] = 1 }
        return m
    }

    /// Full dense product a (n×m) · b (m×p).
    static func matmul(_ a: Mat, _ b: Mat) -> Mat {
        let n = a.count, m = b.count, p = b.first?.count ?? 0
        var out = Mat(repeating: [Double](repeating: 0, count: p), count: n)
        for i in 0..<n {
            precondition(a[i].count == m)
            for j in 0..<p {
                var s = 0.0
                for t in 0..<m { s += a[i][t] * b[t][j] }
                out[i][j] = s
            }
        }
        return out
    }

    static func d(_ m: Matrix, _ r: Int, _ c: Int) -> Double { Double(m.data[r * m.cols + c]) }

    /// y = x·Wᵀ + b for every row of x, W stored (out × in).
    static func linear(_ x: Mat, _ w: LinearWeights) -> Mat {
        let out = w.weight.rows, inp = w.weight.cols
        return x.map { row -> [Double] in
            precondition(row.count == inp)
            var y = [Double](repeating: 0, count: out)
            for o in 0..<out {
                var s = Double(w.bias[o])
                for i in 0..<inp { s += d(w.weight, o, i) * row[i] }
                y[o] = s
            }
            return y
        }
    }

    /// dx = dy·W for every row (the input gradient of a Linear), W stored (out × in).
    static func linearBack(_ dy: Mat, _ w: Matrix) -> Mat {
        let out = w.rows, inp = w.cols
        return dy.map { row -> [Double] in
            var x = [Double](repeating: 0, count: inp)
            for i in 0..<inp {
                var s = 0.0
                for o in 0..<out { s += row[o] * d(w, o, i) }
                x[i] = s
            }
            return x
        }
    }

    /// LayerNorm of one row with biased variance; returns (output, x̂, 1/√(var+eps)).
    static func layerNorm(_ x: [Double], _ ln: LayerNormWeights, eps: Double) -> ([Double], [Double], Double) {
        let n = Double(x.count)
        var mu = 0.0
        for v in x { mu += v }
        mu /= n
        var variance = 0.0
        for v in x { variance += (v - mu) * (v - mu) }
        variance /= n
        let r = 1.0 / (variance + eps).squareRoot()
        var xhat = [Double](repeating: 0, count: x.count)
        var y = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            xhat[i] = (x[i] - mu) * r
            y[i] = Double(ln.gamma[i]) * xhat[i] + Double(ln.beta[i])
        }
        return (y, xhat, r)
    }

    /// Input gradient of LayerNorm for one row: g' = g⊙γ, dx = r·(g' − mean g' − x̂·mean(g'⊙x̂)).
    static func layerNormBack(xhat: [Double], rstd: Double, gamma: [Float], grad: [Double]) -> [Double] {
        let n = Double(xhat.count)
        var gp = [Double](repeating: 0, count: xhat.count)
        var meanG = 0.0, meanGX = 0.0
        for i in 0..<xhat.count {
            gp[i] = grad[i] * Double(gamma[i])
            meanG += gp[i]
            meanGX += gp[i] * xhat[i]
        }
        meanG /= n
        meanGX /= n
        return (0..<xhat.count).map { rstd * (gp[$0] - meanG - xhat[$0] * meanGX) }
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    static func geluDerivative(_ x: Double) -> Double {
        let cdf = 0.5 * (1 + erf(x / 2.0.squareRoot()))
        let pdf = exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
        return cdf + x * pdf
    }

    // MARK: - §1.3 positional-embedding interpolation

    /// Source coordinate (in grid units) of output index `index` when a grid of side `grid` is resized to `target`.
    /// `.dino`: scale factor sf = (target + 0.1)/grid used directly, src = (i + 0.5)/sf − 0.5.
    /// `.size`: exact target size, src = (i + 0.5)·grid/target − 0.5. align_corners = False, no clamping of src.
    static func sourceCoordinate(index: Int, target: Int, grid: Int, mode: PositionalInterpolation) -> Double {
        switch mode {
        case .dino:
            let sf = (Double(target) + 0.1) / Double(grid)
            return (Double(index) + 0.5) / sf - 0.5
        case .size:
            return (Double(index) + 0.5) * (Double(grid) / Double(target)) - 0.5
        }
    }

    /// PyTorch's cubic convolution weights (A = −0.75) for taps i₀−1, i₀, i₀+1, i₀+2 at fraction t.
    static func bicubicWeights(t: Double) -> [Double] {
        let a = -0.75
        func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| ≤ 1
        func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }     // 1 < |x| < 2
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    /// Taps (clamped into [0, grid−1]) and weights for one output index.
    static func bicubicTaps(index: Int, target: Int, grid: Int, mode: PositionalInterpolation) -> [(Int, Double)] {
        let src = sourceCoordinate(index: index, target: target, grid: grid, mode: mode)
        let i0 = Int(floor(src))
        let w = bicubicWeights(t: src - Double(i0))
        return (0..<4).map { k in (min(max(i0 - 1 + k, 0), grid - 1), w[k]) }
    }

    /// (1 + R·C) × D positional embeddings for an R×C patch grid (§1.3): CLS row unchanged, the G×G grid resized
    /// by separable bicubic (columns first within each source row, then rows). Skipped only for R·C == G² and R == C.
    static func interpolatePositions(model: ViTModel, rows R: Int, cols C: Int) -> [[Double]] {
        let pe = model.weights.posEmbed
        let g = model.config.gridSize
        let dim = pe.cols
        precondition(pe.rows == 1 + g * g)
        var out: Mat = [(0..<dim).map { d(pe, 0, $0) }]
        if R * C == g * g && R == C {
            for t in 1...(g * g) { out.append((0..<dim).map { d(pe, t, $0) }) }
            return out
        }
        let mode = model.config.positionalInterpolation
        for r in 0..<R {
            let rowTaps = bicubicTaps(index: r, target: R, grid: g, mode: mode)
            for c in 0..<C {
                let colTaps = bicubicTaps(index: c, target: C, grid: g, mode: mode)
                var value = [Double](repeating: 0, count: dim)
                for (sr, wr) in rowTaps {
                    var along = [Double](repeating: 0, count: dim)
                    for (sc, wc) in colTaps {
                        let token = 1 + sr * g + sc
                        for k in 0..<dim { along[k] += wc * d(pe, token, k) }
                    }
                    for k in 0..<dim { value[k] += wr * along[k] }
                }
                out.append(value)
            }
        }
        return out
    }

    // MARK: - §1 forward

    static func forward(model: ViTModel, image: ImageTensor, scaleInput: Double = 1, addNoise: [Float]? = nil,
                        perturb: (layer: Int, head: Int, i: Int, j: Int, delta: Double)? = nil,
                        zeroedPatches: Set<Int> = [], attentionMask: (layer: Int, tokens: Set<Int>)? = nil) -> PlainForward {
        let cfg = model.config, w = model.weights
        let p = cfg.patchSize, dim = cfg.dim, heads = cfg.numHeads, dh = dim / heads
        let eps = Double(cfg.layerNormEps)
        precondition(image.channels == 3)
        if let noise = addNoise { precondition(noise.count == image.data.count) }
        var x = [Double](repeating: 0, count: image.data.count)
        for i in 0..<x.count { x[i] = Double(image.data[i]) * scaleInput + Double(addNoise?[i] ?? 0) }
        func pixel(_ ch: Int, _ y: Int, _ xx: Int) -> Double { x[(ch * image.height + y) * image.width + xx] }

        // §1.1 patch embedding, §1.2 tokens
        let R = image.height / p, C = image.width / p
        let n = 1 + R * C
        let pos = interpolatePositions(model: model, rows: R, cols: C)
        var z: Mat = [(0..<dim).map { Double(w.clsToken[$0]) + pos[0][$0] }]
        for r in 0..<R {
            for c in 0..<C {
                var e = [Double](repeating: 0, count: dim)
                for o in 0..<dim {
                    var s = Double(w.patchEmbed.bias[o])
                    for ch in 0..<3 {
                        for i in 0..<p {
                            for j in 0..<p {
                                s += d(w.patchEmbed.weight, o, ch * p * p + i * p + j) * pixel(ch, p * r + i, p * c + j)
                            }
                        }
                    }
                    e[o] = (zeroedPatches.contains(r * C + c) ? 0 : s) + pos[1 + r * C + c][o]
                }
                z.append(e)
            }
        }
        let embedded = z

        // §1.4 blocks, every token of every block
        let scale = 1.0 / Double(dh).squareRoot()
        var traces: [BlockTrace] = []
        for (l, b) in w.blocks.enumerated() {
            let input = z
            var z1 = Mat(), xhat1 = Mat(), rstd1 = [Double]()
            for row in input {
                let (y, xh, r) = layerNorm(row, b.norm1, eps: eps)
                z1.append(y); xhat1.append(xh); rstd1.append(r)
            }
            let qkv = linear(z1, b.qkv)
            func slice(_ s: Int, _ h: Int) -> Mat { qkv.map { Array($0[(s * dim + h * dh)..<(s * dim + h * dh + dh)]) } }
            let q = (0..<heads).map { slice(0, $0) }
            let k = (0..<heads).map { slice(1, $0) }
            let v = (0..<heads).map { slice(2, $0) }
            var att = [Mat]()
            var o = Mat(repeating: [Double](repeating: 0, count: dim), count: n)
            for h in 0..<heads {
                var a = Mat(repeating: [Double](repeating: 0, count: n), count: n)
                for i in 0..<n {
                    var s = [Double](repeating: 0, count: n)
                    for j in 0..<n {
                        var dot = 0.0
                        for t in 0..<dh { dot += q[h][i][t] * k[h][j][t] }
                        s[j] = dot * scale
                    }
                    let m = s.max()!
                    var sum = 0.0
                    for j in 0..<n { s[j] = exp(s[j] - m); sum += s[j] }
                    for j in 0..<n { a[i][j] = s[j] / sum }
                }
                if let pt = perturb, pt.layer == l, pt.head == h { a[pt.i][pt.j] += pt.delta }
                if let mask = attentionMask, mask.layer == l {
                    for i in 0..<n { for j in 0..<n where mask.tokens.contains(i) || mask.tokens.contains(j) { a[i][j] = 0 } }
                }
                att.append(a)
                for i in 0..<n {
                    for t in 0..<dh {
                        var s = 0.0
                        for j in 0..<n { s += a[i][j] * v[h][j][t] }
                        o[i][h * dh + t] = s
                    }
                }
            }
            let projected = linear(o, b.proj)
            var u = input
            for i in 0..<n { for c in 0..<dim { u[i][c] += Double(b.layerScale1?[c] ?? 1) * projected[i][c] } }
            var z2 = Mat(), xhat2 = Mat(), rstd2 = [Double]()
            for row in u {
                let (y, xh, r) = layerNorm(row, b.norm2, eps: eps)
                z2.append(y); xhat2.append(xh); rstd2.append(r)
            }
            let f1 = linear(z2, b.fc1)
            let hid = f1.map { $0.map(gelu) }
            let f2 = linear(hid, b.fc2)
            var out = u
            for i in 0..<n { for c in 0..<dim { out[i][c] += Double(b.layerScale2?[c] ?? 1) * f2[i][c] } }
            traces.append(BlockTrace(input: input, xhat1: xhat1, rstd1: rstd1, q: q, k: k, v: v, attention: att, u: u,
                                     xhat2: xhat2, rstd2: rstd2, f1: f1, output: out))
            z = out
        }

        // §1.5 head
        let depth = w.blocks.count, nLast = cfg.nLastBlocks
        var feature = [Double]()
        for slot in 0..<nLast {
            let (y, _, _) = layerNorm(traces[depth - nLast + slot].output[0], w.norm, eps: eps)
            feature += y
        }
        let logits = linear([feature], w.head)[0]
        return PlainForward(logits: logits, attention: traces.map { $0.attention }, values: traces.map { $0.v },
                            tokens: n, rows: R, cols: C, embedded: embedded, blocks: traces, feature: feature)
    }

    // MARK: - §4.11 full manual backward

    /// Gˡ[h][i][j] = ∂y_c/∂Aˡ[h,i,j] for every layer (post-softmax A as a free leaf), every layer and row full.
    static func attentionGradients(model: ViTModel, image: ImageTensor, classIndex: Int, scaleInput: Double = 1,
                                   addNoise: [Float]? = nil) -> [[[[Double]]]] {
        let fwd = forward(model: model, image: image, scaleInput: scaleInput, addNoise: addNoise)
        return attentionGradients(model: model, forward: fwd, classIndex: classIndex)
    }

    static func attentionGradients(model: ViTModel, forward fwd: PlainForward, classIndex c: Int) -> [[[[Double]]]] {
        let cfg = model.config, w = model.weights
        let dim = cfg.dim, heads = cfg.numHeads, dh = dim / heads, n = fwd.tokens
        let depth = w.blocks.count, nLast = cfg.nLastBlocks
        let eps = Double(cfg.layerNormEps)
        let scale = 1.0 / Double(dh).squareRoot()
        var grads = [[[[Double]]]](repeating: [], count: depth)
        var dz = Mat(repeating: [Double](repeating: 0, count: dim), count: n)   // ∂y/∂z^l, l = depth first
        for l in stride(from: depth - 1, through: 0, by: -1) {
            let b = w.blocks[l], tr = fwd.blocks[l]
            // Head injection: slot (l − (depth − nLast)) reads LN_f(z^l_0).
            let slot = l - (depth - nLast)
            if slot >= 0 {
                let (_, xh, r) = layerNorm(tr.output[0], w.norm, eps: eps)
                let g = (0..<dim).map { d(w.head.weight, c, slot * dim + $0) }
                let dx = layerNormBack(xhat: xh, rstd: r, gamma: w.norm.gamma, grad: g)
                for k in 0..<dim { dz[0][k] += dx[k] }
            }
            // MLP branch: out = U + ls2 ⊙ fc2(GELU(fc1(LN2(U))))
            let dF2 = dz.map { row in (0..<dim).map { row[$0] * Double(b.layerScale2?[$0] ?? 1) } }
            let dHid = linearBack(dF2, b.fc2.weight)
            var dF1 = dHid
            for i in 0..<n { for m in 0..<dF1[i].count { dF1[i][m] *= geluDerivative(tr.f1[i][m]) } }
            let dZ2 = linearBack(dF1, b.fc1.weight)
            var dU = dz
            for i in 0..<n {
                let back = layerNormBack(xhat: tr.xhat2[i], rstd: tr.rstd2[i], gamma: b.norm2.gamma, grad: dZ2[i])
                for k in 0..<dim { dU[i][k] += back[k] }
            }
            // Attention branch: U = X + ls1 ⊙ proj(O)
            let dP = dU.map { row in (0..<dim).map { row[$0] * Double(b.layerScale1?[$0] ?? 1) } }
            let dO = linearBack(dP, b.proj.weight)
            var dQKV = Mat(repeating: [Double](repeating: 0, count: 3 * dim), count: n)
            var layerG = [Mat]()
            for h in 0..<heads {
                let a = tr.attention[h], v = tr.v[h], q = tr.q[h], k = tr.k[h]
                let dOh = dO.map { Array($0[(h * dh)..<(h * dh + dh)]) }
                var g = Mat(repeating: [Double](repeating: 0, count: n), count: n)
                for i in 0..<n {
                    for j in 0..<n {
                        var s = 0.0
                        for t in 0..<dh { s += dOh[i][t] * v[j][t] }
                        g[i][j] = s
                    }
                }
                layerG.append(g)
                if l == 0 { continue }
                // dV = Aᵀ·dO
                for j in 0..<n {
                    for t in 0..<dh {
                        var s = 0.0
                        for i in 0..<n { s += a[i][j] * dOh[i][t] }
                        dQKV[j][2 * dim + h * dh + t] = s
                    }
                }
                // softmax backward
                var dS = Mat(repeating: [Double](repeating: 0, count: n), count: n)
                for i in 0..<n {
                    var rowDot = 0.0
                    for kk in 0..<n { rowDot += a[i][kk] * g[i][kk] }
                    for j in 0..<n { dS[i][j] = a[i][j] * (g[i][j] - rowDot) }
                }
                for i in 0..<n {
                    for t in 0..<dh {
                        var sq = 0.0, sk = 0.0
                        for j in 0..<n {
                            sq += dS[i][j] * k[j][t]
                            sk += dS[j][i] * q[j][t]
                        }
                        dQKV[i][h * dh + t] = scale * sq
                        dQKV[i][dim + h * dh + t] = scale * sk
                    }
                }
            }
            grads[l] = layerG
            if l == 0 { break }
            let dZ1 = linearBack(dQKV, b.qkv.weight)
            var dX = dU
            for i in 0..<n {
                let back = layerNormBack(xhat: tr.xhat1[i], rstd: tr.rstd1[i], gamma: b.norm1.gamma, grad: dZ1[i])
                for k in 0..<dim { dX[i][k] += back[k] }
            }
            dz = dX
        }
        return grads
    }

    /// ν̂ˡ[h][n] = ‖W_proj[:, h·dh ..< (h+1)·dh] · Vˡ_h[n]‖₂ (value bias in, projection bias out), computed directly.
    static func valueNorms(model: ViTModel, forward fwd: PlainForward) -> [[[Double]]] {
        let dim = model.config.dim, heads = model.config.numHeads, dh = dim / heads
        return model.weights.blocks.indices.map { l in
            let wp = model.weights.blocks[l].proj.weight
            return (0..<heads).map { h in
                fwd.values[l][h].map { v -> Double in
                    var sq = 0.0
                    for o in 0..<dim {
                        var s = 0.0
                        for t in 0..<dh { s += d(wp, o, h * dh + t) * v[t] }
                        sq += s * s
                    }
                    return sq.squareRoot()
                }
            }
        }
    }
}
