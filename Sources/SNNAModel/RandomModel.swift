import SNNAKernels

/// Reproducible random models of any shape, for tests and benchmarks (`snna model random`).
public enum RandomModel {
    /// Weights roughly as a trained ViT is scaled: truncated-normal-like std 0.02 for linear layers, LayerNorm near
    /// identity, so activations and attention stay in a realistic range at any depth.
    public static func make(patchSize: Int, dim: Int, depth: Int, numHeads: Int, numClasses: Int,
                            mlpRatio: Int = 4, gridSize: Int = 28, nLastBlocks: Int = 4,
                            layerScale: Bool = false, positionalInterpolation: PositionalInterpolation = .dino,
                            inputShortSide: Int = 360, labels: [String]? = nil, seed: UInt64) -> ViTModel {
        precondition(dim % numHeads == 0, "dim must be a multiple of heads")
        var rng = SeededRandom(seed: seed)
        let mlp = dim * mlpRatio
        let nLast = min(nLastBlocks, depth)
        func normal(_ n: Int, _ std: Float) -> [Float] { (0..<n).map { _ in rng.gaussian() * std } }
        func linear(_ out: Int, _ inp: Int, std: Float = 0.02, biasStd: Float = 0.02) -> LinearWeights {
            LinearWeights(weight: Matrix(rows: out, cols: inp, data: normal(out * inp, std)), bias: normal(out, biasStd))
        }
        func layerNorm() -> LayerNormWeights {
            LayerNormWeights(gamma: normal(dim, 0.1).map { 1 + $0 }, beta: normal(dim, 0.05))
        }
        // Attention logits need some spread to make non-trivial maps; scale q/k weights up a little.
        var blocks: [BlockWeights] = []
        for _ in 0..<depth {
            var qkv = linear(3 * dim, dim, std: 0.02)
            for r in 0..<(2 * dim) { for c in 0..<dim { qkv.weight[r, c] *= 4 } }
            blocks.append(BlockWeights(
                norm1: layerNorm(), qkv: qkv, proj: linear(dim, dim), norm2: layerNorm(),
                fc1: linear(mlp, dim), fc2: linear(dim, mlp),
                layerScale1: layerScale ? normal(dim, 0.1).map { 0.5 + abs($0) } : nil,
                layerScale2: layerScale ? normal(dim, 0.1).map { 0.5 + abs($0) } : nil))
        }
        let weights = ViTWeights(
            clsToken: normal(dim, 0.02),
            posEmbed: Matrix(rows: 1 + gridSize * gridSize, cols: dim, data: normal((1 + gridSize * gridSize) * dim, 0.02)),
            patchEmbed: linear(dim, 3 * patchSize * patchSize, std: 0.05),
            blocks: blocks,
            norm: layerNorm(),
            head: linear(numClasses, nLast * dim, std: 0.05, biasStd: 0.01))
        let config = ViTConfig(patchSize: patchSize, dim: dim, depth: depth, numHeads: numHeads, mlpDim: mlp,
                               gridSize: gridSize, numClasses: numClasses, nLastBlocks: nLast, labels: labels,
                               inputShortSide: inputShortSide, positionalInterpolation: positionalInterpolation,
                               hasLayerScale: layerScale,
                               name: "random-p\(patchSize)-d\(dim)-l\(depth)-h\(numHeads)-c\(numClasses)",
                               provenance: "snna model random --seed \(seed)")
        return ViTModel(config: config, weights: weights)
    }
}
