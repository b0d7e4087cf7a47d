import SNNAKernels

/// A PyTorch-style Linear layer: y = x·Wᵀ + b, with W stored (out × in).
public struct LinearWeights: Sendable, Equatable {
    public var weight: Matrix
    public var bias: [Float]
    public init(weight: Matrix, bias: [Float]) {
        precondition(bias.count == weight.rows)
        self.weight = weight
        self.bias = bias
    }
    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }
}

public struct LayerNormWeights: Sendable, Equatable {
    public var gamma: [Float]
    public var beta: [Float]
    public init(gamma: [Float], beta: [Float]) {
        precondition(gamma.count == beta.count)
        self.gamma = gamma
        self.beta = beta
    }
}

/// One pre-norm transformer block (reference §1.4), with optional DINOv2 LayerScale.
public struct BlockWeights: Sendable, Equatable {
    public var norm1: LayerNormWeights
    /// Fused q|k|v projection, 3D × D; within each of q, k, v the heads are contiguous.
    public var qkv: LinearWeights
    public var proj: LinearWeights
    public var norm2: LayerNormWeights
    public var fc1: LinearWeights
    public var fc2: LinearWeights
    public var layerScale1: [Float]?
    public var layerScale2: [Float]?

    public init(norm1: LayerNormWeights, qkv: LinearWeights, proj: LinearWeights, norm2: LayerNormWeights,
                fc1: LinearWeights, fc2: LinearWeights, layerScale1: [Float]? = nil, layerScale2: [Float]? = nil) {
        self.norm1 = norm1
        self.qkv = qkv
        self.proj = proj
        self.norm2 = norm2
        self.fc1 = fc1
        self.fc2 = fc2
        self.layerScale1 = layerScale1
        self.layerScale2 = layerScale2
    }
}

/// All weights of the backbone and the multi-label head.
public struct ViTWeights: Sendable, Equatable {
    /// [D]
    public var clsToken: [Float]
    /// (1 + G²) × D: the CLS row, then the G×G grid row-major.
    public var posEmbed: Matrix
    /// D × (3·P·P), each row flattened in (channel, y, x) C-order (reference §1.1).
    public var patchEmbed: LinearWeights
    public var blocks: [BlockWeights]
    public var norm: LayerNormWeights
    /// C × (nLast·D): slot k reads the final-normed CLS token of block depth − nLast + k.
    public var head: LinearWeights

    public init(clsToken: [Float], posEmbed: Matrix, patchEmbed: LinearWeights, blocks: [BlockWeights],
                norm: LayerNormWeights, head: LinearWeights) {
        self.clsToken = clsToken
        self.posEmbed = posEmbed
        self.patchEmbed = patchEmbed
        self.blocks = blocks
        self.norm = norm
        self.head = head
    }

    public var parameterCount: Int {
        var n = clsToken.count + posEmbed.data.count + patchEmbed.weight.data.count + patchEmbed.bias.count
        for b in blocks {
            n += b.norm1.gamma.count * 2 + b.norm2.gamma.count * 2
            for l in [b.qkv, b.proj, b.fc1, b.fc2] { n += l.weight.data.count + l.bias.count }
            n += (b.layerScale1?.count ?? 0) + (b.layerScale2?.count ?? 0)
        }
        n += norm.gamma.count * 2 + head.weight.data.count + head.bias.count
        return n
    }
}

/// A loaded model: configuration plus weights.
public struct ViTModel: Sendable, Equatable {
    public var config: ViTConfig
    public var weights: ViTWeights
    public init(config: ViTConfig, weights: ViTWeights) {
        self.config = config
        self.weights = weights
    }
}
