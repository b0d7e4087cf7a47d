import SNNAKernels
import Synchronization

/// The inference engine over one model: batched prediction, traced forward, backward of one logit down to every
/// layer's post-softmax attention, and the CLS-only gradient of the last layer for noisy and scaled inputs.
/// Stateless between calls apart from read-only caches, so one engine serves many frames.
public final class ViTEngine: @unchecked Sendable {
    public let model: ViTModel
    public var config: ViTConfig { model.config }
    /// Per layer, per head: W_O⁽ʰ⁾ᵀ·W_O⁽ʰ⁾ (dh × dh), so value norms cost a dh-wide product (reference §7.3 S5).
    let valueGram: [[FloatBuffer]]
    /// Query rows per attention tile: a tile's scores (256 × N floats, 3.7 MB at N = 3601) stay in cache from the
    /// Q·Kᵀ product through the softmax to the products that read them. Any value gives the same result up to float
    /// summation order; tests use small tiles to cover the multi-tile paths on tiny models.
    public let attentionTileRows: Int

    public init(model: ViTModel, attentionTileRows: Int = 256) throws {
        try ViTEngine.validate(model)
        precondition(attentionTileRows >= 1)
        self.model = model
        self.attentionTileRows = attentionTileRows
        let c = model.config
        let d = c.dim, dh = c.headDim
        valueGram = model.weights.blocks.map { block in
            (0..<c.numHeads).map { h in
                let gram = FloatBuffer(count: dh * dh)
                block.proj.weight.data.withUnsafeBufferPointer { w in
                    let wh = w.baseAddress! + h * dh
                    BLAS.gemm(transA: true, m: dh, n: dh, k: d, a: wh, lda: d, b: wh, ldb: d, c: gram.pointer, ldc: dh)
                }
                return gram
            }
        }
    }

    /// Shapes must agree with the configuration; a model file that passed the loader always does.
    static func validate(_ model: ViTModel) throws {
        let c = model.config, w = model.weights
        let d = c.dim, m = c.mlpDim, p = c.patchSize
        func check(_ ok: Bool, _ what: @autoclosure () -> String) throws {
            if !ok { throw EngineError("invalid model: \(what())") }
        }
        try check(c.depth >= 1 && c.numHeads >= 1 && d >= 1 && d % c.numHeads == 0, "dim \(d) is not a multiple of heads \(c.numHeads)")
        try check(c.nLastBlocks >= 1 && c.nLastBlocks <= c.depth, "n_last_blocks \(c.nLastBlocks) not in 1…\(c.depth)")
        try check(w.blocks.count == c.depth, "\(w.blocks.count) blocks, expected \(c.depth)")
        try check(w.clsToken.count == d, "cls_token has \(w.clsToken.count) values, expected \(d)")
        try check(w.posEmbed.rows == 1 + c.gridSize * c.gridSize && w.posEmbed.cols == d, "pos_embed shape")
        try check(w.patchEmbed.weight.rows == d && w.patchEmbed.weight.cols == 3 * p * p, "patch_embed shape")
        try check(w.head.weight.rows == c.numClasses && w.head.weight.cols == c.featureDim,
                  "head.weight is \(w.head.weight.rows)×\(w.head.weight.cols), expected \(c.numClasses)×\(c.featureDim)")
        try check(c.labels.count == c.numClasses, "\(c.labels.count) labels for \(c.numClasses) classes")
        try check(c.mean.count == 3 && c.std.count == 3 && c.std.allSatisfy { $0 > 0 }, "mean/std must be 3 values, std > 0")
        for (i, b) in w.blocks.enumerated() {
            try check(b.qkv.weight.rows == 3 * d && b.qkv.weight.cols == d, "blocks.\(i).attn.qkv.weight shape")
            try check(b.proj.weight.rows == d && b.proj.weight.cols == d, "blocks.\(i).attn.proj.weight shape")
            try check(b.fc1.weight.rows == m && b.fc1.weight.cols == d, "blocks.\(i).mlp.fc1.weight shape")
            try check(b.fc2.weight.rows == d && b.fc2.weight.cols == m, "blocks.\(i).mlp.fc2.weight shape")
            try check(b.norm1.gamma.count == d && b.norm2.gamma.count == d, "blocks.\(i) norm shapes")
            try check(b.norm1.beta.count == d && b.norm2.beta.count == d, "blocks.\(i) norm shapes")
            try check(b.qkv.bias.count == 3 * d && b.proj.bias.count == d && b.fc1.bias.count == m && b.fc2.bias.count == d,
                      "blocks.\(i) bias shapes")
            try check((b.layerScale1 != nil) == c.hasLayerScale && (b.layerScale2 != nil) == c.hasLayerScale,
                      "blocks.\(i) LayerScale presence disagrees with the configuration")
            try check((b.layerScale1?.count ?? d) == d && (b.layerScale2?.count ?? d) == d, "blocks.\(i) LayerScale shapes")
        }
        try check(w.norm.gamma.count == d && w.norm.beta.count == d, "norm shape")
        try check(w.patchEmbed.bias.count == d && w.head.bias.count == c.numClasses, "bias shapes")
        try check(c.patchSize >= 1 && c.gridSize >= 1 && m >= 1, "sizes must be positive")
        // The kernels index matrices through raw pointers with rows × cols: the storage must hold exactly that
        // (`data` is settable, so the invariant of `Matrix.init` alone is not enough).
        let matrices = [w.posEmbed, w.patchEmbed.weight, w.head.weight]
            + w.blocks.flatMap { [$0.qkv.weight, $0.proj.weight, $0.fc1.weight, $0.fc2.weight] }
        try check(matrices.allSatisfy { $0.data.count == $0.rows * $0.cols }, "a weight matrix's storage does not match its shape")
    }

    /// The patch grid of an image of this size after the top-left crop to a multiple of the patch.
    public func grid(height: Int, width: Int) -> (rows: Int, cols: Int) {
        (height / config.patchSize, width / config.patchSize)
    }

    /// The most tokens (CLS + patches) one image may have: one N×N attention buffer is then at most 1 GiB.
    /// 720×1280 at patch 8 is 14,401 tokens.
    public static let maxTokens = 16_385

    /// Refuses grids the engine cannot hold (empty, or over `maxTokens`), with a message for the person.
    public func checkGrid(height: Int, width: Int) throws {
        let p = config.patchSize
        guard height >= p && width >= p else {
            throw EngineError("image \(width)×\(height) is smaller than one \(p)×\(p) patch")
        }
        let (rows, cols) = grid(height: height, width: width)
        let tokens = 1 + rows * cols
        guard tokens <= ViTEngine.maxTokens else {
            throw EngineError("image \(width)×\(height) makes \(tokens) tokens at patch \(p); the limit is " +
                              "\(ViTEngine.maxTokens) (resize it, or use a model with a smaller input_short_side)")
        }
    }

    /// Crops the top-left corner to a multiple of the patch (reference §3.1); refuses images smaller than one patch
    /// or too large to explain.
    public func cropToPatchMultiple(_ image: ImageTensor) throws -> ImageTensor {
        let p = config.patchSize
        guard image.channels == 3 else { throw EngineError("the model needs 3 colour channels, got \(image.channels)") }
        try checkGrid(height: image.height, width: image.width)
        return image.croppedTopLeft(height: image.height - image.height % p, width: image.width - image.width % p)
    }

    /// The indices of images of equal size, one group per size in order of first appearance: a group shares every
    /// GEMM of a forward (B·N rows).
    func sizeGroups(_ cropped: [ImageTensor]) -> [[Int]] {
        var groups: [String: [Int]] = [:]
        for (i, img) in cropped.enumerated() { groups["\(img.height)x\(img.width)", default: []].append(i) }
        return groups.values.sorted { $0[0] < $1[0] }
    }

    /// Raw logits for a batch of images. Images of one size share every GEMM (B·N rows).
    public func predict(_ images: [ImageTensor], attentionEdit: AttentionEdit? = nil) throws -> [[Float]] {
        var results = [[Float]](repeating: [], count: images.count)
        let cropped = try images.map { try cropToPatchMultiple($0) }
        for indices in sizeGroups(cropped) {
            let out = runForward(indices.map { cropped[$0] }, keepTrace: false, edit: attentionEdit)
            for (k, i) in indices.enumerated() { results[i] = out.logits[k] }
        }
        return results
    }

    /// Raw logits for a batch of images, each under its own perturbation (the token- and attention-mask
    /// evaluations, reference §5.2–5.3). Images of one size share every GEMM.
    public func predict(_ images: [ImageTensor], perturbations: [ForwardPerturbation]) throws -> [[Float]] {
        precondition(images.count == perturbations.count, "one perturbation per image")
        var results = [[Float]](repeating: [], count: images.count)
        let cropped = try images.map { try cropToPatchMultiple($0) }
        for (img, perturbation) in zip(cropped, perturbations) {
            let (rows, cols) = grid(height: img.height, width: img.width)
            if let bad = perturbation.zeroedPatches.first(where: { !(0..<(rows * cols)).contains($0) }) {
                throw EngineError("patch \(bad) is outside the \(rows)×\(cols) grid")
            }
            if let bad = perturbation.attentionMaskedTokens.first(where: { !(0...(rows * cols)).contains($0) }) {
                throw EngineError("token \(bad) is outside the \(1 + rows * cols) tokens")
            }
            guard (0..<config.depth).contains(perturbation.attentionMaskLayer) else {
                throw EngineError("attention-mask layer \(perturbation.attentionMaskLayer) is outside 0..<\(config.depth)")
            }
        }
        for indices in sizeGroups(cropped) {
            let group = indices.map { perturbations[$0] }
            let n = 1 + cropped[indices[0]].height / config.patchSize * (cropped[indices[0]].width / config.patchSize)
            // Per image, a 0/1 keep-flag per token for the attention mask (nil: no attention edit for that image).
            let keep: [[Float]?] = group.map { p in
                guard !p.attentionMaskedTokens.isEmpty else { return nil }
                var k = [Float](repeating: 1, count: n)
                for t in p.attentionMaskedTokens { k[t] = 0 }
                return k
            }
            let edit: BatchAttentionEdit? = keep.allSatisfy({ $0 == nil }) ? nil : { b, l, _, row0, a, rows, n in
                guard let k = keep[b], l == group[b].attentionMaskLayer else { return }
                for r in 0..<rows {
                    let row = a + r * n
                    if k[row0 + r] == 0 { row.update(repeating: 0, count: n); continue }
                    for j in 0..<n { row[j] *= k[j] }
                }
            }
            let out = runForward(indices.map { cropped[$0] }, keepTrace: false, batchEdit: edit,
                                 zeroedPatches: group.map(\.zeroedPatches))
            for (k, i) in indices.enumerated() { results[i] = out.logits[k] }
        }
        return results
    }

    /// A forward that keeps what the backward needs (one image). It takes no attention edit: the backward
    /// recomputes attention from Q and K, so an edit would not be seen there.
    public func trace(_ image: ImageTensor) throws -> ForwardTrace {
        let img = try cropToPatchMultiple(image)
        let out = runForward([img], keepTrace: true, edit: nil)
        let (rows, cols) = grid(height: img.height, width: img.width)
        return ForwardTrace(logits: out.logits[0], gridRows: rows, gridCols: cols, blocks: out.blocks,
                            last: out.lastStates[0], slots: out.slots[0])
    }

    /// Positional embeddings for a grid; depends only on the size, so it is computed once per resolution.
    func positions(rows: Int, cols: Int) -> Matrix {
        positionCache.value(rows: rows, cols: cols) {
            PositionalEmbedding.interpolate(model.weights.posEmbed, gridSize: config.gridSize, rows: rows, cols: cols,
                                            mode: config.positionalInterpolation)
        }
    }
    let positionCache = PositionCache()
}

/// Interpolated positional embeddings by grid size, shared by concurrent callers.
final class PositionCache: Sendable {
    private struct Key: Hashable { let rows: Int, cols: Int }
    private let entries = Mutex<[Key: Matrix]>([:])

    func value(rows: Int, cols: Int, make: () -> Matrix) -> Matrix {
        let key = Key(rows: rows, cols: cols)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let made = make()
        entries.withLock { $0[key] = made }
        return made
    }
}
