/// How the pretraining grid of positional embeddings is resized to another grid (reference §1.3).
public enum PositionalInterpolation: String, Sendable, Codable, CaseIterable {
    /// DINO v1: bicubic with scale factor (R+0.1)/G used directly for the coordinate mapping.
    case dino
    /// DINOv2 / timm style: bicubic to the exact target size, coordinates scaled by G/R.
    case size
}

/// Everything about a ViT that is not a weight. Shapes (patch, dim, depth, MLP width, grid) come from the tensors;
/// the rest from the model file's metadata.
public struct ViTConfig: Sendable, Equatable {
    public var patchSize: Int
    public var dim: Int
    public var depth: Int
    public var numHeads: Int
    public var mlpDim: Int
    /// Side of the square pretraining grid of positional embeddings (28 for DINO ViT-S/8 at 224).
    public var gridSize: Int
    public var numClasses: Int
    public var nLastBlocks: Int
    public var labels: [String]
    public var inputShortSide: Int
    public var mean: [Float]
    public var std: [Float]
    public var layerNormEps: Float
    public var positionalInterpolation: PositionalInterpolation
    public var hasLayerScale: Bool
    public var name: String?
    public var provenance: String?

    public static let bddActions = ["move_forward", "slow_down", "turn_left", "turn_right"]
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    public init(patchSize: Int, dim: Int, depth: Int, numHeads: Int, mlpDim: Int, gridSize: Int, numClasses: Int,
                nLastBlocks: Int = 4, labels: [String]? = nil, inputShortSide: Int = 360,
                mean: [Float] = ViTConfig.imagenetMean, std: [Float] = ViTConfig.imagenetStd,
                layerNormEps: Float = 1e-6, positionalInterpolation: PositionalInterpolation = .dino,
                hasLayerScale: Bool = false, name: String? = nil, provenance: String? = nil) {
        self.patchSize = patchSize
        self.dim = dim
        self.depth = depth
        self.numHeads = numHeads
        self.mlpDim = mlpDim
        self.gridSize = gridSize
        self.numClasses = numClasses
        self.nLastBlocks = nLastBlocks
        self.labels = labels ?? (numClasses == 4 ? ViTConfig.bddActions : (0..<numClasses).map { "class_\($0)" })
        self.inputShortSide = inputShortSide
        self.mean = mean
        self.std = std
        self.layerNormEps = layerNormEps
        self.positionalInterpolation = positionalInterpolation
        self.hasLayerScale = hasLayerScale
        self.name = name
        self.provenance = provenance
    }

    public var headDim: Int { dim / numHeads }
    /// Width of the classifier's input: the CLS tokens of the last `nLastBlocks` blocks, concatenated.
    public var featureDim: Int { nLastBlocks * dim }
}
