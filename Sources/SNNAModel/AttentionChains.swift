import SNNAKernels

/// How the value norm ν̂ weights the attention in NormAtt and SNNA (reference §4.6, project decision §9.2).
public enum ValueNormIndexing: String, Sendable, CaseIterable, Codable {
    /// The authors' code: row n (the query) is scaled by the norm of token n's value.
    case row
    /// The paper and Kobayashi et al.: column s (the attended token) is scaled by the norm of token s's value.
    case column
}

/// Which per-layer reductions a clean backward should accumulate. Each is a row vector over the N tokens.
public struct AttentionReductions: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// mean_h A^L[h, 0, :] (RawAtt).
    public static let rawAttention = AttentionReductions(rawValue: 1 << 0)
    /// Row 0 of Â^L⋯Â^1 with Â = (mean_h A + I)/2 (Rollout).
    public static let rollout = AttentionReductions(rawValue: 1 << 1)
    /// Σ_l mean_h G^l[h, 0, :] (Gradient).
    public static let gradientSum = AttentionReductions(rawValue: 1 << 2)
    /// Σ_l mean_h relu(A^l ⊙ G^l)[h, 0, :] (AttGrad).
    public static let attentionGradientSum = AttentionReductions(rawValue: 1 << 3)
    /// Row 0 of (I+cam^L)⋯(I+cam^1), cam = mean_h relu(A ⊙ G) (GenericAtt; the R of AttIG and SmoothGrad).
    public static let genericChain = AttentionReductions(rawValue: 1 << 4)
    /// Row 0 of cam^L⋯cam^1, cam = mean_h relu(ν̂ A ⊙ G) + I (NormAtt; the R of SNNA).
    public static let normChain = AttentionReductions(rawValue: 1 << 5)
    public static let all: AttentionReductions = [.rawAttention, .rollout, .gradientSum, .attentionGradientSum,
                                                  .genericChain, .normChain]
}

/// The result of one clean forward and one backward of logit `target`: every row vector the methods of reference §4
/// are built from (§7.3 S1, S2, S8). Vectors have N entries, CLS first.
public struct AttentionSummary: Sendable {
    public var logits: [Float]
    public var target: Int
    public var gridRows: Int
    public var gridCols: Int
    public var valueNorm: ValueNormIndexing
    public var rawAttention: [Float]?
    public var rollout: [Float]?
    public var gradientSum: [Float]?
    public var attentionGradientSum: [Float]?
    public var genericChain: [Float]?
    public var normChain: [Float]?
    /// G^L[h, 0, :] on the clean input, H × N.
    public var lastLayerGradient: [Float]
    public var tokens: Int { 1 + gridRows * gridCols }
}

/// One head's attention and its gradient as the backward streams them (layer l 0-based). `rows` is N for full
/// blocks and 1 for the CLS-only last block, whose other rows of G are exactly zero (§7.3 S3). The pointers are
/// valid only while the consumer or inspector that receives the view runs. `gradient` is nil on passes that read
/// attention only (RawAtt, Rollout); `valueNorms` (ν̂[h, ·], N values) only when a norm chain is requested.
public struct AttentionHeadView {
    public let layer: Int
    public let head: Int
    public let rows: Int
    public let tokens: Int
    public let attention: UnsafePointer<Float>
    public let gradient: UnsafePointer<Float>?
    public let valueNorms: UnsafePointer<Float>?
}

/// Accumulates the requested row-vector chains layer by layer, last layer first — the order the backward produces
/// them — so no layer's N×N attention outlives its own step (§7.3 S9).
final class AttentionChains {
    let request: AttentionReductions
    let valueNorm: ValueNormIndexing
    let n: Int
    let heads: Int
    let rawAttention: FloatBuffer
    let rollout: FloatBuffer, rolloutNext: FloatBuffer
    let gradientSum: FloatBuffer
    let attentionGradientSum: FloatBuffer
    let generic: FloatBuffer, genericNext: FloatBuffer, genericWeight: FloatBuffer
    let norm: FloatBuffer, normNext: FloatBuffer, normWeight: FloatBuffer, columnScratch: FloatBuffer

    init(request: AttentionReductions, valueNorm: ValueNormIndexing, tokens n: Int, heads: Int) {
        self.request = request
        self.valueNorm = valueNorm
        self.n = n
        self.heads = heads
        func zeros() -> FloatBuffer { FloatBuffer(count: n) }
        func e0() -> FloatBuffer { let b = zeros(); b[0] = 1; return b }
        rawAttention = zeros()
        rollout = e0(); rolloutNext = zeros()
        gradientSum = zeros()
        attentionGradientSum = zeros()
        generic = e0(); genericNext = zeros(); genericWeight = zeros()
        norm = e0(); normNext = zeros(); normWeight = zeros(); columnScratch = zeros()
    }

    var needsValueNorms: Bool { request.contains(.normChain) }

    func beginLayer() {
        rolloutNext.zero()
        genericNext.zero()
        normNext.zero()
    }

    func consume(_ v: AttentionHeadView, isLast: Bool) {
        let invH = 1 / Float(heads)
        let a = v.attention
        if isLast && request.contains(.rawAttention) {
            Kernels.axpy(rawAttention.pointer, a, scale: invH, count: n)
        }
        if request.contains(.rollout) {
            // (r · mean_h A)[s] over the rows this view holds (r is e0 at the last layer, so row 0 suffices there).
            BLAS.gemv(transA: true, m: v.rows, n: n, alpha: invH, a: a, lda: n, x: rollout.pointer, beta: 1,
                      y: rolloutNext.pointer)
        }
        guard let g = v.gradient else { return }
        if request.contains(.gradientSum) {
            Kernels.axpy(gradientSum.pointer, g, scale: invH, count: n)
        }
        if request.contains(.attentionGradientSum) {
            for s in 0..<n { attentionGradientSum[s] += max(a[s] * g[s], 0) * invH }
        }
        var weights: [UnsafePointer<Float>] = []
        var outs: [UnsafeMutablePointer<Float>] = []
        if request.contains(.genericChain) {
            for i in 0..<v.rows { genericWeight[i] = generic[i] * invH }
            weights.append(genericWeight.pointer)
            outs.append(genericNext.pointer)
        }
        if request.contains(.normChain) {
            switch valueNorm {
            case .row:
                for i in 0..<v.rows { normWeight[i] = norm[i] * v.valueNorms![i] * invH }
                outs.append(normNext.pointer)
            case .column:
                for i in 0..<v.rows { normWeight[i] = norm[i] * invH }
                columnScratch.zero()
                outs.append(columnScratch.pointer)
            }
            weights.append(normWeight.pointer)
        }
        Kernels.reluProductGemv(a: a, g: g, rows: v.rows, cols: n, weights: weights, outs: outs)
        if request.contains(.normChain) && valueNorm == .column {
            let nu = v.valueNorms!
            for s in 0..<n { normNext[s] += columnScratch[s] * nu[s] }
        }
    }

    func endLayer() {
        if request.contains(.rollout) {
            for i in 0..<n { rollout[i] = (rollout[i] + rolloutNext[i]) * 0.5 }
        }
        if request.contains(.genericChain) { Kernels.axpy(generic.pointer, genericNext.pointer, scale: 1, count: n) }
        if request.contains(.normChain) { Kernels.axpy(norm.pointer, normNext.pointer, scale: 1, count: n) }
    }
}
