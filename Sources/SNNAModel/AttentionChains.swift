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

/// A tile of query rows of one head's attention and its gradient, as the backward streams them (layer l 0-based):
/// rows firstRow ..< firstRow + rows, each N long. Full blocks arrive in tiles covering all N rows; the CLS-only
/// last block as row 0 alone, its other rows of G being exactly zero (§7.3 S3). The pointers are valid only while
/// the consumer or inspector that receives the view runs. `gradient` is nil on passes that read attention only
/// (RawAtt, Rollout); `valueNorms` (ν̂[h, ·], all N values) only when a norm chain is requested.
public struct AttentionHeadView {
    public let layer: Int
    public let head: Int
    public let firstRow: Int
    public let rows: Int
    public let tokens: Int
    public let attention: UnsafePointer<Float>
    public let gradient: UnsafePointer<Float>?
    public let valueNorms: UnsafePointer<Float>?
}

/// Accumulates the requested row-vector chains layer by layer, last layer first — the order the backward produces
/// them — so no layer's N×N attention outlives its own step (§7.3 S9). Heads are consumed concurrently, each into
/// its own lane; lanes are summed in head order when a layer ends, so results are bit-reproducible whatever the
/// scheduling.
final class AttentionChains {
    let request: AttentionReductions
    let valueNorm: ValueNormIndexing
    let n: Int
    let heads: Int
    /// The chains' current row vectors r (start e₀).
    let rollout: FloatBuffer, generic: FloatBuffer, norm: FloatBuffer
    /// r_generic / H, the same for every head of a layer.
    let genericWeight: FloatBuffer
    let lanes: [Lane]

    /// One head's partial sums for the current layer, and its scratch.
    final class Lane {
        let rolloutNext: FloatBuffer, genericNext: FloatBuffer, normNext: FloatBuffer
        let rawAttention: FloatBuffer, gradientSum: FloatBuffer, attentionGradientSum: FloatBuffer
        let normWeight: FloatBuffer, columnScratch: FloatBuffer
        init(_ n: Int) {
            rolloutNext = FloatBuffer(count: n); genericNext = FloatBuffer(count: n); normNext = FloatBuffer(count: n)
            rawAttention = FloatBuffer(count: n); gradientSum = FloatBuffer(count: n)
            attentionGradientSum = FloatBuffer(count: n)
            normWeight = FloatBuffer(count: n); columnScratch = FloatBuffer(count: n)
        }
    }

    init(request: AttentionReductions, valueNorm: ValueNormIndexing, tokens n: Int, heads: Int) {
        self.request = request
        self.valueNorm = valueNorm
        self.n = n
        self.heads = heads
        func e0() -> FloatBuffer { let b = FloatBuffer(count: n); b[0] = 1; return b }
        rollout = e0()
        generic = e0()
        norm = e0()
        genericWeight = FloatBuffer(count: n)
        lanes = (0..<heads).map { _ in Lane(n) }
    }

    var needsValueNorms: Bool { request.contains(.normChain) }

    func beginLayer() {
        for lane in lanes {
            lane.rolloutNext.zero()
            lane.genericNext.zero()
            lane.normNext.zero()
        }
        let invH = 1 / Float(heads)
        for i in 0..<n { genericWeight[i] = generic[i] * invH }
    }

    func consume(_ v: AttentionHeadView, isLast: Bool) {
        let lane = lanes[v.head]
        let invH = 1 / Float(heads)
        let a = v.attention, r0 = v.firstRow
        let hasCLSRow = r0 == 0
        if isLast && hasCLSRow && request.contains(.rawAttention) {
            Kernels.axpy(lane.rawAttention.pointer, a, scale: invH, count: n)
        }
        if request.contains(.rollout) {
            // (r · mean_h A)[s] over the rows this view holds (r is e0 at the last layer, so row 0 suffices there).
            BLAS.gemv(transA: true, m: v.rows, n: n, alpha: invH, a: a, lda: n, x: rollout.pointer + r0, beta: 1,
                      y: lane.rolloutNext.pointer)
        }
        guard let g = v.gradient else { return }
        if hasCLSRow && request.contains(.gradientSum) {
            Kernels.axpy(lane.gradientSum.pointer, g, scale: invH, count: n)
        }
        if hasCLSRow && request.contains(.attentionGradientSum) {
            for s in 0..<n { lane.attentionGradientSum[s] += max(a[s] * g[s], 0) * invH }
        }
        var weights: [UnsafePointer<Float>] = []
        var outs: [UnsafeMutablePointer<Float>] = []
        if request.contains(.genericChain) {
            weights.append(genericWeight.pointer + r0)
            outs.append(lane.genericNext.pointer)
        }
        if request.contains(.normChain) {
            switch valueNorm {
            case .row:
                let nu = v.valueNorms!
                for i in r0..<(r0 + v.rows) { lane.normWeight[i] = norm[i] * nu[i] * invH }
                outs.append(lane.normNext.pointer)
            case .column:
                for i in r0..<(r0 + v.rows) { lane.normWeight[i] = norm[i] * invH }
                lane.columnScratch.zero()
                outs.append(lane.columnScratch.pointer)
            }
            weights.append(lane.normWeight.pointer + r0)
        }
        Kernels.reluProductGemv(a: a, g: g, rows: v.rows, cols: n, weights: weights, outs: outs)
        if request.contains(.normChain) && valueNorm == .column {
            let nu = v.valueNorms!
            for s in 0..<n { lane.normNext[s] += lane.columnScratch[s] * nu[s] }
        }
    }

    func endLayer() {
        if request.contains(.rollout) {
            let next = sumOfLanes(\.rolloutNext)
            for i in 0..<n { rollout[i] = (rollout[i] + next[i]) * 0.5 }
        }
        if request.contains(.genericChain) {
            let next = sumOfLanes(\.genericNext)
            for i in 0..<n { generic[i] += next[i] }
        }
        if request.contains(.normChain) {
            let next = sumOfLanes(\.normNext)
            for i in 0..<n { norm[i] += next[i] }
        }
    }

    /// Lane sums in lane order, so results are reproducible whatever the scheduling.
    func sumOfLanes(_ field: KeyPath<Lane, FloatBuffer>) -> [Float] {
        var out = [Float](repeating: 0, count: n)
        for lane in lanes {
            let b = lane[keyPath: field]
            for i in 0..<n { out[i] += b[i] }
        }
        return out
    }
}
