/// Analytic floating-point operation counts (2 per multiply-add) of what the engine actually computes, from the
/// shapes alone (reference §7.2). Elementwise work (softmax, LayerNorm, GELU, chains) is not counted: the figures are
/// the dense products, the part a GEMM-bound implementation is measured against.
public struct FlopModel: Sendable {
    public let config: ViTConfig
    public let rows: Int
    public let cols: Int

    public init(config: ViTConfig, height: Int, width: Int) {
        self.config = config
        rows = height / config.patchSize
        cols = width / config.patchSize
    }

    var n: Double { Double(1 + rows * cols) }
    var d: Double { Double(config.dim) }
    var m: Double { Double(config.mlpDim) }
    var patches: Double { Double(rows * cols) }

    /// Patch embedding, every block but the last in full, the last for CLS only (§7.3 S3), and the head.
    public var forward: Double {
        let p2 = Double(3 * config.patchSize * config.patchSize)
        let embed = 2 * patches * p2 * d
        let fullBlock = 2 * n * d * 3 * d + 4 * n * n * d + 2 * n * d * d + 4 * n * d * m
        let lastBlock = 2 * n * d * 2 * d + 2 * d * d + 4 * n * d + 2 * d * d + 4 * d * m
        let head = 2 * Double(config.numClasses * config.featureDim)
        return embed + Double(config.depth - 1) * fullBlock + lastBlock + head
    }

    /// The backward of one logit down to every layer's attention: the last block's CLS backward and its K/V/Q input
    /// gradient, then per full block the MLP and projection products, A recomputed from Q·Kᵀ, G = dO·Vᵀ, and (except
    /// for the first block) dV, dQ, dK and the qkv input gradient.
    public var backward: Double {
        let last = 2 * n * 3 * d * d + 4 * d * m + 2 * d * d + 4 * n * d
        let mlpAndProj = 4 * n * d * m + 2 * n * d * d
        let attention = 4 * n * n * d          // recompute A, form G
        let inputs = 6 * n * n * d + 6 * n * d * d  // dV, dQ, dK; dZ1 = dQKV·W_qkv
        let blocks = Double(config.depth - 1)
        return last + blocks * (mlpAndProj + attention) + max(blocks - 1, 0) * inputs
    }

    /// The backward when only attention is read (RawAtt, Rollout): A recomputed for every full block.
    public var attentionOnly: Double { Double(config.depth - 1) * 2 * n * n * d }

    /// One noisy or scaled pass (§7.3 S4): a forward; the CLS-only backward of the last block is a few matrix-vector
    /// products.
    public var lastLayerGradient: Double { forward }

    /// The dense work of one method on one frame, as `Explainer` runs it alone.
    public func method(_ name: String, samples: Int, steps: Int) -> Double {
        switch name {
        case "rawatt", "rollout": return forward + attentionOnly
        case "attig": return forward + backward + Double(max(steps - 1, 0)) * lastLayerGradient
        case "smoothgrad", "snna": return forward + backward + Double(samples) * lastLayerGradient
        default: return forward + backward
        }
    }
}
