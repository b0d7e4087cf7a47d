import SNNAKernels

/// What the backward needs of one full block (reference §4.11), saved by a traced forward.
/// About N·(2D + 3D + M)·4 bytes per block: 50 MB at 360×640 for ViT-S/8.
final class BlockActivations {
    /// Block input X and its LayerNorm-1 statistics.
    let x: FloatBuffer
    let ln1Mean: FloatBuffer
    let ln1Rstd: FloatBuffer
    /// Fused q|k|v, N × 3D.
    let qkv: FloatBuffer
    /// Residual after attention U and its LayerNorm-2 statistics.
    let u: FloatBuffer
    let ln2Mean: FloatBuffer
    let ln2Rstd: FloatBuffer
    /// MLP pre-activation F1, N × M.
    let f1: FloatBuffer

    /// Every buffer is written completely by the block's forward before anything reads it.
    init(tokens n: Int, dim d: Int, mlp m: Int) {
        x = FloatBuffer(count: n * d, zeroed: false)
        ln1Mean = FloatBuffer(count: n, zeroed: false)
        ln1Rstd = FloatBuffer(count: n, zeroed: false)
        qkv = FloatBuffer(count: n * 3 * d, zeroed: false)
        u = FloatBuffer(count: n * d, zeroed: false)
        ln2Mean = FloatBuffer(count: n, zeroed: false)
        ln2Rstd = FloatBuffer(count: n, zeroed: false)
        f1 = FloatBuffer(count: n * m, zeroed: false)
    }
}

/// The last block computed for the CLS token only (reference §7.3 S3): K and V for every token, the rest for token 0.
final class LastBlockState {
    let x: FloatBuffer          // N × D block input (LayerNorm-1 backward needs every token: dK, dV reach them all)
    let ln1Mean: FloatBuffer
    let ln1Rstd: FloatBuffer
    let kv: FloatBuffer         // N × 2D: K then V
    let q0: FloatBuffer         // D
    let attention0: FloatBuffer // H × N: row 0 of each head's attention
    let u0: FloatBuffer         // D
    var ln2Mean0: Float = 0
    var ln2Rstd0: Float = 0
    let f10: FloatBuffer        // M
    let output0: FloatBuffer    // D: the block's CLS output

    init(tokens n: Int, dim d: Int, heads h: Int, mlp m: Int) {
        x = FloatBuffer(count: n * d)
        ln1Mean = FloatBuffer(count: n)
        ln1Rstd = FloatBuffer(count: n)
        kv = FloatBuffer(count: n * 2 * d)
        q0 = FloatBuffer(count: d)
        attention0 = FloatBuffer(count: h * n)
        u0 = FloatBuffer(count: d)
        f10 = FloatBuffer(count: m)
        output0 = FloatBuffer(count: d)
    }
}

/// The CLS token of each block the head reads, before the final LayerNorm, with that norm's statistics.
struct HeadSlot {
    var token: [Float]
    var mean: Float
    var rstd: Float
}

/// A traced forward of one image: enough to run the backward of any class logit.
public final class ForwardTrace {
    public let logits: [Float]
    public let gridRows: Int
    public let gridCols: Int
    public var tokens: Int { 1 + gridRows * gridCols }
    let blocks: [BlockActivations]     // depth − 1 full blocks
    let last: LastBlockState
    let slots: [HeadSlot]

    init(logits: [Float], gridRows: Int, gridCols: Int, blocks: [BlockActivations], last: LastBlockState, slots: [HeadSlot]) {
        self.logits = logits
        self.gridRows = gridRows
        self.gridCols = gridCols
        self.blocks = blocks
        self.last = last
        self.slots = slots
    }
}

/// A post-softmax attention edit applied during an inference forward (`ViTEngine.predict`), after the softmax and
/// before A·V, for each (layer, head): finite-difference checks, and forward-only uses such as the attention-mask
/// evaluation (reference §5.3). Traced forwards take no edit, since the backward recomputes attention.
/// Attention is computed in tiles of query rows, on several threads at once: each call receives layer (0-based),
/// head, the tile's first query row, a pointer to its rows × N block, its row count (1 for the CLS-only last
/// block) and N. Calls for different tiles may run concurrently.
public typealias AttentionEdit = (_ layer: Int, _ head: Int, _ firstRow: Int, _ attention: UnsafeMutablePointer<Float>,
                                  _ rows: Int, _ tokens: Int) -> Void

/// An attention edit that also receives the image's index in the batch.
typealias BatchAttentionEdit = (_ image: Int, _ layer: Int, _ head: Int, _ firstRow: Int,
                                _ attention: UnsafeMutablePointer<Float>, _ rows: Int, _ tokens: Int) -> Void

/// What an evaluation forward changes for one image (reference §5.2–5.3).
public struct ForwardPerturbation: Sendable, Equatable {
    /// Patch indices (0..<rows·cols, row-major, no CLS offset) whose patch embedding — after the projection and its
    /// bias — is set to 0 before the positional embedding is added (the token mask).
    public var zeroedPatches: [Int]
    /// Token indices (0 = CLS, patches from 1) whose rows and columns of the post-softmax attention of
    /// `attentionMaskLayer` are set to 0 in every head, without renormalising (the attention mask).
    public var attentionMaskedTokens: [Int]
    public var attentionMaskLayer: Int

    public init(zeroedPatches: [Int] = [], attentionMaskedTokens: [Int] = [], attentionMaskLayer: Int = 0) {
        self.zeroedPatches = zeroedPatches
        self.attentionMaskedTokens = attentionMaskedTokens
        self.attentionMaskLayer = attentionMaskLayer
    }

    public static let none = ForwardPerturbation()
}
