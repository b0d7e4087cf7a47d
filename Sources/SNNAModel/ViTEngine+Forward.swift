import SNNAKernels

// Row-parallel building blocks: each splits its rows over the engine's workers (`Parallel`), so the GEMM and the
// elementwise work that follows it touch the same rows on the same core.

/// y = x·Wᵀ + b for `rows` rows.
func linearForward(_ x: UnsafePointer<Float>, rows: Int, _ layer: LinearWeights, into out: UnsafeMutablePointer<Float>) {
    let k = layer.inFeatures, n = layer.outFeatures
    layer.weight.data.withUnsafeBufferPointer { w in
        layer.bias.withUnsafeBufferPointer { bias in
            Parallel.forEachChunk(rows, minimum: 32) { r in
                BLAS.gemm(transB: true, m: r.count, n: n, k: k, a: x + r.lowerBound * k, lda: k, b: w.baseAddress!,
                          ldb: k, c: out + r.lowerBound * n, ldc: n)
                Kernels.addBiasRows(out + r.lowerBound * n, bias: bias.baseAddress!, rows: r.count, cols: n)
            }
        }
    }
}

/// residual += scale ⊙ delta (scale per column, or 1 without LayerScale), for `rows` rows of `cols`.
func addResidual(_ residual: UnsafeMutablePointer<Float>, _ delta: UnsafeMutablePointer<Float>, scale: [Float]?,
                 rows: Int, cols: Int) {
    Parallel.forEachChunk(rows, minimum: 64) { r in
        let o = r.lowerBound * cols
        if let scale {
            scale.withUnsafeBufferPointer { Kernels.scaleColumns(delta + o, scale: $0.baseAddress!, rows: r.count, cols: cols) }
        }
        Kernels.axpy(residual + o, delta + o, scale: 1, count: r.count * cols)
    }
}

func layerNorm(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
               rstd: UnsafeMutablePointer<Float>?, _ weights: LayerNormWeights, rows: Int, eps: Float) {
    let cols = weights.gamma.count
    weights.gamma.withUnsafeBufferPointer { g in
        weights.beta.withUnsafeBufferPointer { b in
            Parallel.forEachChunk(rows, minimum: 64) { r in
                Kernels.layerNormForward(x + r.lowerBound * cols, out + r.lowerBound * cols,
                                         mean: mean.map { $0 + r.lowerBound }, rstd: rstd.map { $0 + r.lowerBound },
                                         gamma: g.baseAddress!, beta: b.baseAddress!, rows: r.count, cols: cols, eps: eps)
            }
        }
    }
}

func gelu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forEachChunk(count, minimum: 1 << 14) { r in
        Kernels.geluForward(x + r.lowerBound, out + r.lowerBound, count: r.count)
    }
}



struct ForwardOutput {
    var gridRows: Int
    var gridCols: Int
    var logits: [[Float]]
    var blocks: [BlockActivations]
    var lastStates: [LastBlockState]
    var slots: [[HeadSlot]]
}

extension ViTEngine {
    /// The forward pass of reference §1 for images of one (cropped) size. The last block runs for CLS only (§7.3 S3).
    func runForward(_ images: [ImageTensor], keepTrace: Bool, edit: AttentionEdit?, keepLast: Bool = false) -> ForwardOutput {
        runForward(images, keepTrace: keepTrace, batchEdit: edit.map { e in { _, l, h, r, a, rows, n in e(l, h, r, a, rows, n) } },
                   zeroedPatches: nil, keepLast: keepLast)
    }

    /// `batchEdit` also receives the image's index in the batch; `zeroedPatches[b]` lists the patches of image b
    /// whose embedding is zeroed before the positional embedding is added (the token-mask evaluation, §5.2).
    func runForward(_ images: [ImageTensor], keepTrace: Bool, batchEdit edit: BatchAttentionEdit?,
                    zeroedPatches: [[Int]]?, keepLast: Bool = false) -> ForwardOutput {
        let c = config
        let batch = images.count
        let (rows, cols) = grid(height: images[0].height, width: images[0].width)
        let n = 1 + rows * cols, d = c.dim, m = c.mlpDim
        let bn = batch * n
        let z = embed(images, rows: rows, cols: cols, zeroedPatches: zeroedPatches)

        var saved: [BlockActivations] = []
        var slots = [[HeadSlot]](repeating: [], count: batch)
        let scratch = keepTrace ? nil : BlockActivations(tokens: bn, dim: d, mlp: m)
        let work = BlockScratch(tokens: bn, dim: d, mlp: m, attentionTokens: n, tileRows: attentionTileRows)
        let firstSlotBlock = c.depth - c.nLastBlocks
        for l in 0..<(c.depth - 1) {
            let act = scratch ?? BlockActivations(tokens: bn, dim: d, mlp: m)
            fullBlockForward(layer: l, z: z, batch: batch, tokens: n, act: act, work: work, edit: edit)
            if keepTrace { saved.append(act) }
            if l >= firstSlotBlock {
                for b in 0..<batch { slots[b].append(headSlot(z.at(b * n * d))) }
            }
        }
        var lastStates: [LastBlockState] = []
        var logits: [[Float]] = []
        for b in 0..<batch {
            let state = LastBlockState(tokens: n, dim: d, heads: c.numHeads, mlp: m)
            state.x.pointer.update(from: z.at(b * n * d), count: n * d)
            let out0 = lastBlockForward(state, tokens: n, edit: edit.map { e in { l, h, r, a, rows, n in e(b, l, h, r, a, rows, n) } })
            slots[b].append(headSlot(out0))
            logits.append(headLogits(slots[b]))
            if keepTrace || keepLast { lastStates.append(state) }
        }
        return ForwardOutput(gridRows: rows, gridCols: cols, logits: logits, blocks: saved, lastStates: lastStates, slots: slots)
    }

    /// Patch embedding as a GEMM over flattened patches, plus CLS and interpolated positions (reference §1.1–1.3).
    func embed(_ images: [ImageTensor], rows: Int, cols: Int, zeroedPatches: [[Int]]? = nil) -> FloatBuffer {
        let c = config
        let p = c.patchSize, d = c.dim, k = 3 * p * p
        let n = 1 + rows * cols
        let z = FloatBuffer(count: images.count * n * d)
        let pos = positions(rows: rows, cols: cols)
        let patches = FloatBuffer(count: rows * cols * k)
        for (b, image) in images.enumerated() {
            image.data.withUnsafeBufferPointer { px in
                for r in 0..<rows {
                    for cc in 0..<cols {
                        let dst = patches.at((r * cols + cc) * k)
                        for ch in 0..<3 {
                            for i in 0..<p {
                                let src = px.baseAddress! + (ch * image.height + r * p + i) * image.width + cc * p
                                (dst + ch * p * p + i * p).update(from: src, count: p)
                            }
                        }
                    }
                }
            }
            let zb = z.at(b * n * d)
            linearForward(patches.pointer, rows: rows * cols, model.weights.patchEmbed, into: zb + d)
            for patch in zeroedPatches?[b] ?? [] { (zb + (1 + patch) * d).update(repeating: 0, count: d) }
            for j in 0..<d { zb[j] = model.weights.clsToken[j] }
            pos.data.withUnsafeBufferPointer { Kernels.axpy(zb, $0.baseAddress!, scale: 1, count: n * d) }
        }
        return z
    }

    /// One full pre-norm block, in place on z (B·N × D). Saves its activations into `act`.
    func fullBlockForward(layer l: Int, z: FloatBuffer, batch: Int, tokens n: Int, act: BlockActivations,
                          work: BlockScratch, edit: BatchAttentionEdit?) {
        let c = config, w = model.weights.blocks[l]
        let d = c.dim, dh = c.headDim, bn = batch * n
        act.x.pointer.update(from: z.pointer, count: bn * d)
        layerNorm(act.x.pointer, work.normed.pointer, mean: act.ln1Mean.pointer, rstd: act.ln1Rstd.pointer, w.norm1,
                  rows: bn, eps: c.layerNormEps)
        linearForward(work.normed.pointer, rows: bn, w.qkv, into: act.qkv.pointer)
        let scale = 1 / Float(dh).squareRoot()
        // Tiles of (image, head, query rows) in parallel: scores, softmax and A·V while the tile is in cache.
        let tiles = (n + attentionTileRows - 1) / attentionTileRows
        let heads = c.numHeads
        Parallel.forEach(batch * heads * tiles) { item, worker in
            let b = item / (heads * tiles), h = (item / tiles) % heads, t = item % tiles
            let row0 = t * attentionTileRows, rows = min(attentionTileRows, n - row0)
            let qkv = act.qkv.at(b * n * 3 * d)
            let s = work.tile(worker), inverseSums = work.rowScale(worker)
            let out = work.heads.at((b * n + row0) * d + h * dh)
            if let edit {
                attentionRows(qkv: qkv, head: h, firstRow: row0, rows: rows, tokens: n, into: s.pointer, scale: scale)
                edit(b, l, h, row0, s.pointer, rows, n)
                BLAS.gemm(m: rows, n: dh, k: n, a: s.pointer, lda: n, b: qkv + 2 * d + h * dh, ldb: 3 * d, c: out, ldc: d)
            } else {
                // O_h = softmax(S)·V_h = (E·V_h)/rowsum(E): divide the dh-wide product, not the N-wide E.
                BLAS.gemm(transB: true, m: rows, n: n, k: dh, a: qkv + row0 * 3 * d + h * dh, lda: 3 * d,
                          b: qkv + d + h * dh, ldb: 3 * d, c: s.pointer, ldc: n)
                Kernels.softmaxExpRows(s.pointer, rows: rows, cols: n, scale: scale, inverseSums: inverseSums.pointer)
                BLAS.gemm(m: rows, n: dh, k: n, a: s.pointer, lda: n, b: qkv + 2 * d + h * dh, ldb: 3 * d, c: out, ldc: d)
                Kernels.scaleRows(out, rows: rows, cols: dh, ld: d, scale: inverseSums.pointer)
            }
        }
        linearForward(work.heads.pointer, rows: bn, w.proj, into: work.delta.pointer)
        act.u.pointer.update(from: act.x.pointer, count: bn * d)
        addResidual(act.u.pointer, work.delta.pointer, scale: w.layerScale1, rows: bn, cols: d)
        layerNorm(act.u.pointer, work.normed.pointer, mean: act.ln2Mean.pointer, rstd: act.ln2Rstd.pointer, w.norm2,
                  rows: bn, eps: c.layerNormEps)
        linearForward(work.normed.pointer, rows: bn, w.fc1, into: act.f1.pointer)
        gelu(act.f1.pointer, work.hidden.pointer, count: bn * c.mlpDim)
        linearForward(work.hidden.pointer, rows: bn, w.fc2, into: work.delta.pointer)
        z.pointer.update(from: act.u.pointer, count: bn * d)
        addResidual(z.pointer, work.delta.pointer, scale: w.layerScale2, rows: bn, cols: d)
    }

    /// Rows firstRow..<firstRow+rows of A_h = softmax(scale · Q_h·K_hᵀ) for one image's fused qkv (N × 3D), into a
    /// rows × N buffer.
    func attentionRows(qkv: UnsafePointer<Float>, head h: Int, firstRow: Int, rows: Int, tokens n: Int,
                       into a: UnsafeMutablePointer<Float>, scale: Float) {
        let d = config.dim, dh = config.headDim
        BLAS.gemm(transB: true, m: rows, n: n, k: dh, a: qkv + firstRow * 3 * d + h * dh, lda: 3 * d,
                  b: qkv + d + h * dh, ldb: 3 * d, c: a, ldc: n)
        Kernels.softmaxRows(a, rows: rows, cols: n, scale: scale)
    }

    /// The last block for the CLS token only: K and V for all tokens, attention row 0, MLP at token 0.
    /// Returns a pointer to the block's CLS output (inside the state's scratch).
    func lastBlockForward(_ s: LastBlockState, tokens n: Int, edit: AttentionEdit?) -> UnsafeMutablePointer<Float> {
        let c = config, w = model.weights.blocks[c.depth - 1]
        let d = c.dim, dh = c.headDim, m = c.mlpDim
        let normed = FloatBuffer(count: n * d)
        layerNorm(s.x.pointer, normed.pointer, mean: s.ln1Mean.pointer, rstd: s.ln1Rstd.pointer, w.norm1, rows: n,
                  eps: c.layerNormEps)
        w.qkv.weight.data.withUnsafeBufferPointer { wq in
            w.qkv.bias.withUnsafeBufferPointer { bq in
                // K|V rows of the fused weight are contiguous: rows D..3D.
                BLAS.gemmRows(transB: true, m: n, n: 2 * d, k: d, a: normed.pointer, lda: d, b: wq.baseAddress! + d * d,
                              ldb: d, c: s.kv.pointer, ldc: 2 * d)
                Kernels.addBiasRows(s.kv.pointer, bias: bq.baseAddress! + d, rows: n, cols: 2 * d)
                BLAS.gemv(m: d, n: d, a: wq.baseAddress!, lda: d, x: normed.pointer, y: s.q0.pointer)
                Kernels.axpy(s.q0.pointer, bq.baseAddress!, scale: 1, count: d)
            }
        }
        let scale = 1 / Float(dh).squareRoot()
        let heads = FloatBuffer(count: d)
        Parallel.forEach(c.numHeads) { h, _ in
            let a0 = s.attention0.at(h * n)
            BLAS.gemv(m: n, n: dh, a: s.kv.pointer + h * dh, lda: 2 * d, x: s.q0.pointer + h * dh, y: a0)
            Kernels.softmaxRows(a0, rows: 1, cols: n, scale: scale)
            edit?(c.depth - 1, h, 0, a0, 1, n)
            BLAS.gemv(transA: true, m: n, n: dh, a: s.kv.pointer + d + h * dh, lda: 2 * d, x: a0, y: heads.at(h * dh))
        }
        let delta = FloatBuffer(count: max(d, m))
        linearForward(heads.pointer, rows: 1, w.proj, into: delta.pointer)
        s.u0.pointer.update(from: s.x.pointer, count: d)
        addResidual(s.u0.pointer, delta.pointer, scale: w.layerScale1, rows: 1, cols: d)
        var mean: Float = 0, rstd: Float = 0
        layerNorm(s.u0.pointer, normed.pointer, mean: &mean, rstd: &rstd, w.norm2, rows: 1, eps: c.layerNormEps)
        s.ln2Mean0 = mean
        s.ln2Rstd0 = rstd
        linearForward(normed.pointer, rows: 1, w.fc1, into: s.f10.pointer)
        let hidden = FloatBuffer(count: m)
        gelu(s.f10.pointer, hidden.pointer, count: m)
        linearForward(hidden.pointer, rows: 1, w.fc2, into: delta.pointer)
        s.output0.pointer.update(from: s.u0.pointer, count: d)
        addResidual(s.output0.pointer, delta.pointer, scale: w.layerScale2, rows: 1, cols: d)
        return s.output0.pointer
    }

    /// The CLS token of a block output, with the final LayerNorm's statistics, as the head reads it.
    func headSlot(_ token: UnsafePointer<Float>) -> HeadSlot {
        let d = config.dim
        let values = Array(UnsafeBufferPointer(start: token, count: d))
        var mean: Float = 0, rstd: Float = 0
        var normed = [Float](repeating: 0, count: d)
        normed.withUnsafeMutableBufferPointer { layerNorm(token, $0.baseAddress!, mean: &mean, rstd: &rstd, model.weights.norm, rows: 1, eps: config.layerNormEps) }
        return HeadSlot(token: values, mean: mean, rstd: rstd)
    }

    /// y = W_head · [LN_f(cls_k)]_k + b (reference §1.5).
    func headLogits(_ slots: [HeadSlot]) -> [Float] {
        let feature = headFeature(slots)
        var logits = [Float](repeating: 0, count: config.numClasses)
        feature.withUnsafeBufferPointer { f in
            logits.withUnsafeMutableBufferPointer { linearForward(f.baseAddress!, rows: 1, model.weights.head, into: $0.baseAddress!) }
        }
        return logits
    }

    /// The head's input f = [LN_f(cls_k)]_k (reference §1.5).
    func headFeature(_ slots: [HeadSlot]) -> [Float] {
        let d = config.dim
        var feature = [Float](repeating: 0, count: config.featureDim)
        feature.withUnsafeMutableBufferPointer { f in
            for (k, slot) in slots.enumerated() {
                slot.token.withUnsafeBufferPointer { t in
                    layerNorm(t.baseAddress!, f.baseAddress! + k * d, mean: nil, rstd: nil, model.weights.norm, rows: 1,
                              eps: config.layerNormEps)
                }
            }
        }
        return feature
    }

    /// The classifier's input features for a batch (the final-normed CLS tokens of the last `nLastBlocks` blocks,
    /// concatenated): what a head is fitted on with the backbone frozen (reference §6.2).
    public func features(_ images: [ImageTensor]) throws -> [[Float]] {
        var results = [[Float]](repeating: [], count: images.count)
        let cropped = try images.map { try cropToPatchMultiple($0) }
        for indices in sizeGroups(cropped) {
            let out = runForward(indices.map { cropped[$0] }, keepTrace: false, edit: nil)
            for (k, i) in indices.enumerated() { results[i] = headFeature(out.slots[k]) }
        }
        return results
    }
}

/// Per-call scratch for full blocks (not saved for the backward).
final class BlockScratch {
    let normed: FloatBuffer     // B·N × D
    let heads: FloatBuffer      // B·N × D, concatenated head outputs
    let delta: FloatBuffer      // B·N × D, a sublayer's output before the residual
    let hidden: FloatBuffer     // B·N × M
    private let tiles: [FloatBuffer]  // per worker: tileRows × N scores
    private let rowScales: [FloatBuffer]  // per worker: tileRows inverse softmax sums
    /// Written completely before read: normed, delta and hidden by whole-matrix products, heads by the tiles, which
    /// cover every (row, head) slice.
    init(tokens: Int, dim: Int, mlp: Int, attentionTokens n: Int, tileRows: Int) {
        normed = FloatBuffer(count: tokens * dim, zeroed: false)
        heads = FloatBuffer(count: tokens * dim, zeroed: false)
        delta = FloatBuffer(count: tokens * dim, zeroed: false)
        hidden = FloatBuffer(count: tokens * mlp, zeroed: false)
        tiles = (0..<Parallel.threads).map { _ in FloatBuffer(count: min(tileRows, n) * n, zeroed: false) }
        rowScales = (0..<Parallel.threads).map { _ in FloatBuffer(count: min(tileRows, n)) }
    }
    func tile(_ worker: Int) -> FloatBuffer { tiles[worker] }
    func rowScale(_ worker: Int) -> FloatBuffer { rowScales[worker] }
}
