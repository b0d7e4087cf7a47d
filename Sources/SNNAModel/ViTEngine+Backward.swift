import SNNAKernels
import Synchronization

/// Inspects every head's attention and gradient as the backward streams them (tests and diagnostics). Calls are
/// serialised (heads are processed concurrently), in no particular order within a layer.
public typealias AttentionInspector = (AttentionHeadView) -> Void

/// Serialises inspector calls from the workers.
final class InspectorGate: Sendable {
    private let lock = Mutex(())
    func call(_ inspector: AttentionInspector?, _ view: AttentionHeadView) {
        guard let inspector else { return }
        lock.withLock { _ in inspector(view) }
    }
}

extension ViTEngine {
    /// One backward of logit `target` over a traced forward, down to the post-softmax attention of every layer
    /// (reference §4.11), accumulating the requested chains as it goes (§7.3 S1, S3, S9). Activation gradients only.
    public func backward(_ trace: ForwardTrace, target: Int, reductions: AttentionReductions,
                         valueNorm: ValueNormIndexing = .row, inspector: AttentionInspector? = nil) -> AttentionSummary {
        let c = config
        precondition(target >= 0 && target < c.numClasses)
        let n = trace.tokens, d = c.dim, dh = c.headDim, m = c.mlpDim, heads = c.numHeads
        let chains = AttentionChains(request: reductions, valueNorm: valueNorm, tokens: n, heads: heads)
        let gate = InspectorGate()
        let scale = 1 / Float(dh).squareRoot()
        let lastLayer = c.depth - 1
        // RawAtt and Rollout need every layer's attention but no gradient below the last block; an inspector sees all.
        let needsGradient = inspector != nil || !reductions.isSubset(of: [.rawAttention, .rollout])

        // Last block, CLS only: the head's last slot → LN_f → MLP and LN2 at token 0 → dO₀.
        let last = trace.last
        let dOut0 = headSlotGradient(trace.slots[c.nLastBlocks - 1], target: target, slot: c.nLastBlocks - 1)
        let dU0 = FloatBuffer(count: d)
        let dO0 = FloatBuffer(count: d)
        lastBlockCLSBackward(last, dOut0: dOut0, dU0: dU0, dO0: dO0)

        let lastGradient = lastLayerGradientRows(last, dO0: dO0, tokens: n)
        let dQKV = FloatBuffer(count: n * 3 * d)
        let norms = chains.needsValueNorms ? FloatBuffer(count: heads * n) : nil
        if let norms { valueNorms(layer: lastLayer, values: last.kv.pointer + d, ld: 2 * d, tokens: n, into: norms) }
        chains.beginLayer()
        let dS = (0..<heads).map { _ in FloatBuffer(count: n) }
        Parallel.forEach(heads) { h, _ in
            let g0 = lastGradient.at(h * n)
            let a0 = UnsafePointer(last.attention0.at(h * n))
            let view = AttentionHeadView(layer: lastLayer, head: h, firstRow: 0, rows: 1, tokens: n, attention: a0,
                                         gradient: g0, valueNorms: norms.map { UnsafePointer($0.at(h * n)) })
            gate.call(inspector, view)
            chains.consume(view, isLast: true)
            if c.depth == 1 || !needsGradient { return }
            let ds = dS[h]
            ds.pointer.update(from: g0, count: n)
            Kernels.softmaxBackwardRows(a0, ds.pointer, rows: 1, cols: n)
            // dq₀ = s·dS₀·K_h ; dK_h = s·dS₀ᵀ q₀ ; dV_h = A₀ᵀ dO₀ (rank-one, one row of dS). Head h owns its columns.
            BLAS.gemv(transA: true, m: n, n: dh, alpha: scale, a: last.kv.pointer + h * dh, lda: 2 * d, x: ds.pointer,
                      y: dQKV.at(h * dh))
            for j in 0..<n {
                let ks = scale * ds[j], va = a0[j]
                let row = dQKV.at(j * 3 * d)
                for k in 0..<dh {
                    row[d + h * dh + k] = ks * last.q0[h * dh + k]
                    row[2 * d + h * dh + k] = va * dO0[h * dh + k]
                }
            }
        }
        chains.endLayer()

        if c.depth > 1 && !needsGradient {
            attentionOnlyPass(trace, chains: chains, gate: gate, inspector: inspector)
        } else if c.depth > 1 {
            let w = model.weights.blocks[lastLayer]
            var dX = FloatBuffer(count: n * d)
            let dZ1 = FloatBuffer(count: n * d)
            w.qkv.weight.data.withUnsafeBufferPointer { wq in
                BLAS.gemmRows(m: n, n: d, k: 3 * d, a: dQKV.pointer, lda: 3 * d, b: wq.baseAddress!, ldb: d,
                              c: dZ1.pointer, ldc: d)
            }
            layerNormBackward(last.x.pointer, mean: last.ln1Mean.pointer, rstd: last.ln1Rstd.pointer, w.norm1,
                              dout: dZ1.pointer, dx: dX.pointer, rows: n, accumulate: false)
            Kernels.axpy(dX.pointer, dU0.pointer, scale: 1, count: d)

            let work = BackwardScratch(tokens: n, dim: d, mlp: m, tileRows: attentionTileRows)
            let firstSlotBlock = c.depth - c.nLastBlocks
            for l in stride(from: c.depth - 2, through: 0, by: -1) {
                if l >= firstSlotBlock {
                    let k = l - firstSlotBlock
                    let inject = headSlotGradient(trace.slots[k], target: target, slot: k)
                    Kernels.axpy(dX.pointer, inject.pointer, scale: 1, count: d)
                }
                if let norms {
                    valueNorms(layer: l, values: trace.blocks[l].qkv.pointer + 2 * d, ld: 3 * d, tokens: n, into: norms)
                }
                dX = fullBlockBackward(layer: l, act: trace.blocks[l], dOut: dX, work: work, chains: chains,
                                       norms: norms, gate: gate, inspector: inspector, needInputGradient: l > 0)
            }
        }

        func vector(_ r: AttentionReductions, _ b: FloatBuffer) -> [Float]? { reductions.contains(r) ? b.array : nil }
        func lanes(_ r: AttentionReductions, _ field: KeyPath<AttentionChains.Lane, FloatBuffer>) -> [Float]? {
            reductions.contains(r) ? chains.sumOfLanes(field) : nil
        }
        return AttentionSummary(
            logits: trace.logits, target: target, gridRows: trace.gridRows, gridCols: trace.gridCols,
            valueNorm: valueNorm,
            rawAttention: lanes(.rawAttention, \.rawAttention),
            rollout: vector(.rollout, chains.rollout),
            gradientSum: lanes(.gradientSum, \.gradientSum),
            attentionGradientSum: lanes(.attentionGradientSum, \.attentionGradientSum),
            genericChain: vector(.genericChain, chains.generic),
            normChain: vector(.normChain, chains.norm),
            lastLayerGradient: lastGradient.array)
    }

    /// G^L[h, 0, :] for an input without any deep backward: a forward (CLS-only last block) and the CLS-only backward
    /// of the last block (reference §7.3 S4). Costs about one forward. Returns (logits, H × N gradient rows).
    public func lastLayerGradient(_ image: ImageTensor, target: Int) throws -> (logits: [Float], gradient: [Float]) {
        let img = try cropToPatchMultiple(image)
        let out = runForward([img], keepTrace: false, edit: nil, keepLast: true)
        let c = config
        let dOut0 = headSlotGradient(out.slots[0][c.nLastBlocks - 1], target: target, slot: c.nLastBlocks - 1)
        let dU0 = FloatBuffer(count: c.dim), dO0 = FloatBuffer(count: c.dim)
        lastBlockCLSBackward(out.lastStates[0], dOut0: dOut0, dU0: dU0, dO0: dO0)
        let g = lastLayerGradientRows(out.lastStates[0], dO0: dO0, tokens: 1 + out.gridRows * out.gridCols)
        return (out.logits[0], g.array)
    }

    /// G^L[h, 0, :] = V^L_h · dO₀[h] for every head (H × N): V is held fixed by ∂y/∂A (§7.3 S4).
    func lastLayerGradientRows(_ s: LastBlockState, dO0: FloatBuffer, tokens n: Int) -> FloatBuffer {
        let d = config.dim, dh = config.headDim
        let g = FloatBuffer(count: config.numHeads * n)
        Parallel.forEach(config.numHeads) { h, _ in
            BLAS.gemv(m: n, n: dh, a: s.kv.pointer + d + h * dh, lda: 2 * d, x: dO0.pointer + h * dh, y: g.at(h * n))
        }
        return g
    }

    /// Layers L−1 … 1 for reductions that read attention only: recompute each head's A from the saved Q and K and
    /// hand it to the chains, with no gradient work at all.
    func attentionOnlyPass(_ trace: ForwardTrace, chains: AttentionChains, gate: InspectorGate,
                           inspector: AttentionInspector?) {
        let n = trace.tokens
        let tileRows = min(attentionTileRows, n)
        let buffers = (0..<Parallel.threads).map { _ in FloatBuffer(count: tileRows * n) }
        let scale = 1 / Float(config.headDim).squareRoot()
        for l in stride(from: config.depth - 2, through: 0, by: -1) {
            chains.beginLayer()
            Parallel.forEach(config.numHeads) { h, worker in
                let a = buffers[worker]
                for r0 in stride(from: 0, to: n, by: tileRows) {
                    let rows = min(tileRows, n - r0)
                    attentionRows(qkv: trace.blocks[l].qkv.pointer, head: h, firstRow: r0, rows: rows, tokens: n,
                                  into: a.pointer, scale: scale)
                    let view = AttentionHeadView(layer: l, head: h, firstRow: r0, rows: rows, tokens: n,
                                                 attention: a.pointer, gradient: nil, valueNorms: nil)
                    gate.call(inspector, view)
                    chains.consume(view, isLast: false)
                }
            }
            chains.endLayer()
        }
    }

    /// ∂y_target/∂(CLS output of head slot k), through the final LayerNorm (reference §4.11, head).
    func headSlotGradient(_ slot: HeadSlot, target: Int, slot k: Int) -> FloatBuffer {
        let d = config.dim
        let out = FloatBuffer(count: d)
        let headRow = model.weights.head.weight.row(target)
        let g = Array(headRow[(k * d)..<((k + 1) * d)])
        var mean = slot.mean, rstd = slot.rstd
        slot.token.withUnsafeBufferPointer { t in
            g.withUnsafeBufferPointer { gp in
                layerNormBackward(t.baseAddress!, mean: &mean, rstd: &rstd, model.weights.norm, dout: gp.baseAddress!,
                                  dx: out.pointer, rows: 1, accumulate: false)
            }
        }
        return out
    }

    /// The last block's backward at token 0, from ∂y/∂out₀ to ∂y/∂U₀ and ∂y/∂O₀ (the concatenated head outputs).
    func lastBlockCLSBackward(_ s: LastBlockState, dOut0: FloatBuffer, dU0: FloatBuffer, dO0: FloatBuffer) {
        let c = config, w = model.weights.blocks[c.depth - 1]
        let d = c.dim, m = c.mlpDim
        let g = FloatBuffer(count: d)
        g.pointer.update(from: dOut0.pointer, count: d)
        if let ls = w.layerScale2 { for i in 0..<d { g[i] *= ls[i] } }
        let dHid = FloatBuffer(count: m)
        w.fc2.weight.data.withUnsafeBufferPointer {
            BLAS.gemv(transA: true, m: d, n: m, a: $0.baseAddress!, lda: m, x: g.pointer, y: dHid.pointer)
        }
        let dF1 = FloatBuffer(count: m)
        Kernels.geluBackward(s.f10.pointer, dout: dHid.pointer, dx: dF1.pointer, count: m)
        let dZ2 = FloatBuffer(count: d)
        w.fc1.weight.data.withUnsafeBufferPointer {
            BLAS.gemv(transA: true, m: m, n: d, a: $0.baseAddress!, lda: d, x: dF1.pointer, y: dZ2.pointer)
        }
        dU0.pointer.update(from: dOut0.pointer, count: d)
        var mean = s.ln2Mean0, rstd = s.ln2Rstd0
        layerNormBackward(s.u0.pointer, mean: &mean, rstd: &rstd, w.norm2, dout: dZ2.pointer, dx: dU0.pointer, rows: 1,
                          accumulate: true)
        g.pointer.update(from: dU0.pointer, count: d)
        if let ls = w.layerScale1 { for i in 0..<d { g[i] *= ls[i] } }
        w.proj.weight.data.withUnsafeBufferPointer {
            BLAS.gemv(transA: true, m: d, n: d, a: $0.baseAddress!, lda: d, x: g.pointer, y: dO0.pointer)
        }
    }

    /// The backward of one full block, given ∂y/∂(block output). Heads run concurrently, each streaming its A and G
    /// to the chains. Returns ∂y/∂(block input), or `dOut` untouched when `needInputGradient` is false (block 1).
    func fullBlockBackward(layer l: Int, act: BlockActivations, dOut: FloatBuffer, work: BackwardScratch,
                           chains: AttentionChains, norms: FloatBuffer?, gate: InspectorGate,
                           inspector: AttentionInspector?, needInputGradient: Bool) -> FloatBuffer {
        let c = config, w = model.weights.blocks[l]
        let n = act.u.count / c.dim, d = c.dim, dh = c.headDim, m = c.mlpDim
        let scale = 1 / Float(dh).squareRoot()
        // MLP: dHid = (ls2 ⊙ dOut)·W_fc2, dF1 = dHid ⊙ GELU'(F1), dU = dOut + LN2ᵀ(dF1·W_fc1).
        scaledCopy(dOut, by: w.layerScale2, into: work.scaled, rows: n, cols: d)
        w.fc2.weight.data.withUnsafeBufferPointer {
            BLAS.gemmRows(m: n, n: m, k: d, a: work.scaled.pointer, lda: d, b: $0.baseAddress!, ldb: m,
                          c: work.hidden.pointer, ldc: m)
        }
        Parallel.forEachChunk(n * m, minimum: 1 << 14) { r in
            Kernels.geluBackward(act.f1.pointer + r.lowerBound, dout: work.hidden.pointer + r.lowerBound,
                                 dx: work.hidden.pointer + r.lowerBound, count: r.count)
        }
        w.fc1.weight.data.withUnsafeBufferPointer {
            BLAS.gemmRows(m: n, n: d, k: m, a: work.hidden.pointer, lda: m, b: $0.baseAddress!, ldb: d,
                          c: work.normed.pointer, ldc: d)
        }
        let dU = work.dU
        dU.pointer.update(from: dOut.pointer, count: n * d)
        layerNormBackward(act.u.pointer, mean: act.ln2Mean.pointer, rstd: act.ln2Rstd.pointer, w.norm2,
                          dout: work.normed.pointer, dx: dU.pointer, rows: n, accumulate: true)
        // dO = (ls1 ⊙ dU)·W_proj.
        scaledCopy(dU, by: w.layerScale1, into: work.scaled, rows: n, cols: d)
        let dO = work.dO
        w.proj.weight.data.withUnsafeBufferPointer {
            BLAS.gemmRows(m: n, n: d, k: d, a: work.scaled.pointer, lda: d, b: $0.baseAddress!, ldb: d,
                          c: dO.pointer, ldc: d)
        }
        let qkv = act.qkv.pointer
        let tileRows = work.tileRows
        chains.beginLayer()
        // Heads in parallel; within a head, tiles of query rows, so A and G never exist as whole N×N matrices and a
        // tile stays in cache from its recomputation to the last product that reads it (§7.3 S9).
        Parallel.forEach(c.numHeads, maxWorkers: work.attention.count) { h, worker in
            let a = work.attention[worker], g = work.gradient[worker]
            let dQKV = work.dQKV
            for r0 in stride(from: 0, to: n, by: tileRows) {
                let rows = min(tileRows, n - r0)
                // Recompute rows of A_h rather than keep 12 layers of it.
                attentionRows(qkv: qkv, head: h, firstRow: r0, rows: rows, tokens: n, into: a.pointer, scale: scale)
                // G_h = dO_h · V_hᵀ: the hooked attention gradient.
                BLAS.gemm(transB: true, m: rows, n: n, k: dh, a: dO.pointer + r0 * d + h * dh, lda: d,
                          b: qkv + 2 * d + h * dh, ldb: 3 * d, c: g.pointer, ldc: n)
                let view = AttentionHeadView(layer: l, head: h, firstRow: r0, rows: rows, tokens: n, attention: a.pointer,
                                             gradient: g.pointer, valueNorms: norms.map { UnsafePointer($0.at(h * n)) })
                gate.call(inspector, view)
                chains.consume(view, isLast: false)
                guard needInputGradient else { continue }
                // Head h writes only its own dQ, dK, dV columns; dV and dK sum over every tile's rows.
                let accumulate: Float = r0 == 0 ? 0 : 1
                BLAS.gemm(transA: true, m: n, n: dh, k: rows, a: a.pointer, lda: n, b: dO.pointer + r0 * d + h * dh,
                          ldb: d, beta: accumulate, c: dQKV.at(2 * d + h * dh), ldc: 3 * d)
                Kernels.softmaxBackwardRows(a.pointer, g.pointer, rows: rows, cols: n)
                BLAS.gemm(m: rows, n: dh, k: n, alpha: scale, a: g.pointer, lda: n, b: qkv + d + h * dh, ldb: 3 * d,
                          c: dQKV.at(r0 * 3 * d + h * dh), ldc: 3 * d)
                BLAS.gemm(transA: true, m: n, n: dh, k: rows, alpha: scale, a: g.pointer, lda: n,
                          b: qkv + r0 * 3 * d + h * dh, ldb: 3 * d, beta: accumulate, c: dQKV.at(d + h * dh), ldc: 3 * d)
            }
        }
        chains.endLayer()
        guard needInputGradient else { return dOut }
        w.qkv.weight.data.withUnsafeBufferPointer {
            BLAS.gemmRows(m: n, n: d, k: 3 * d, a: work.dQKV.pointer, lda: 3 * d, b: $0.baseAddress!, ldb: d,
                          c: work.normed.pointer, ldc: d)
        }
        let dX = FloatBuffer(count: n * d)
        dX.pointer.update(from: dU.pointer, count: n * d)
        layerNormBackward(act.x.pointer, mean: act.ln1Mean.pointer, rstd: act.ln1Rstd.pointer, w.norm1,
                          dout: work.normed.pointer, dx: dX.pointer, rows: n, accumulate: true)
        return dX
    }

    /// out = x ⊙ scale per column (LayerScale), or a plain copy.
    func scaledCopy(_ x: FloatBuffer, by scale: [Float]?, into out: FloatBuffer, rows: Int, cols: Int) {
        out.pointer.update(from: x.pointer, count: rows * cols)
        if let scale {
            scale.withUnsafeBufferPointer { Kernels.scaleColumns(out.pointer, scale: $0.baseAddress!, rows: rows, cols: cols) }
        }
    }

    /// ν̂[h, n] = ‖W_O⁽ʰ⁾ v_n‖ via the Gram matrix (§7.3 S5), for every head of one layer, into an H × N buffer.
    func valueNorms(layer l: Int, values: UnsafePointer<Float>, ld: Int, tokens n: Int, into out: FloatBuffer) {
        let dh = config.headDim
        Parallel.forEach(config.numHeads) { h, _ in
            let t = FloatBuffer(count: n * dh)
            let v = values + h * dh
            BLAS.gemm(m: n, n: dh, k: dh, a: v, lda: ld, b: valueGram[l][h].pointer, ldb: dh, c: t.pointer, ldc: dh)
            let o = out.at(h * n)
            for i in 0..<n {
                var s: Float = 0
                for k in 0..<dh { s += t[i * dh + k] * v[i * ld + k] }
                o[i] = max(s, 0).squareRoot()
            }
        }
    }
}

func layerNormBackward(_ x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                       _ weights: LayerNormWeights, dout: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int,
                       accumulate: Bool) {
    let cols = weights.gamma.count
    weights.gamma.withUnsafeBufferPointer { g in
        Parallel.forEachChunk(rows, minimum: 64) { r in
            let o = r.lowerBound * cols
            Kernels.layerNormBackward(x + o, mean: mean + r.lowerBound, rstd: rstd + r.lowerBound, gamma: g.baseAddress!,
                                      dout: dout + o, dx: dx + o, rows: r.count, cols: cols, accumulate: accumulate)
        }
    }
}

/// Working buffers of the full-block backward for one token count, reused across layers.
final class BackwardScratch {
    let scaled: FloatBuffer, normed: FloatBuffer, dU: FloatBuffer, dO: FloatBuffer, hidden: FloatBuffer, dQKV: FloatBuffer
    /// Per worker: a tile of one head's A and G (then dS), tileRows × N each.
    let attention: [FloatBuffer], gradient: [FloatBuffer]
    let tileRows: Int
    /// Every buffer is overwritten before it is read (dQKV: each head's first tile writes its dK and dV columns with
    /// beta 0, and the tiles write every row of its dQ columns).
    init(tokens n: Int, dim d: Int, mlp m: Int, tileRows tile: Int) {
        scaled = FloatBuffer(count: n * d, zeroed: false)
        normed = FloatBuffer(count: n * d, zeroed: false)
        dU = FloatBuffer(count: n * d, zeroed: false)
        dO = FloatBuffer(count: n * d, zeroed: false)
        hidden = FloatBuffer(count: n * m, zeroed: false)
        dQKV = FloatBuffer(count: n * 3 * d, zeroed: false)
        let workers = min(Parallel.threads, 64)
        tileRows = min(tile, n)
        attention = (0..<workers).map { [tileRows] _ in FloatBuffer(count: tileRows * n, zeroed: false) }
        gradient = (0..<workers).map { [tileRows] _ in FloatBuffer(count: tileRows * n, zeroed: false) }
    }
}
