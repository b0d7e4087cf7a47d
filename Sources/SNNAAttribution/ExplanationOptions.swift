import SNNAModel

/// Settings shared by the methods; defaults follow the authors' code (reference §4.9, project decisions §9).
public struct ExplanationOptions: Sendable, Equatable {
    /// The explained class; nil means the argmax of the clean logits (ties to the lowest index).
    public var target: Int?
    /// Noise samples for SNNA and SmoothGrad; nil means each method's default (3 and 25).
    public var samples: Int?
    /// α steps for AttIG (linspace(0, 1, steps), both ends included).
    public var steps: Int
    /// σ = sigmaFraction · (max − min) of the normalized input; 0 disables the noise.
    public var sigmaFraction: Float
    /// Seed of the noise generator; recorded in every output.
    public var seed: UInt64
    public var valueNorm: ValueNormIndexing

    public init(target: Int? = nil, samples: Int? = nil, steps: Int = 20, sigmaFraction: Float = 0.15, seed: UInt64 = 0,
                valueNorm: ValueNormIndexing = .row) {
        self.target = target
        self.samples = samples
        self.steps = steps
        self.sigmaFraction = sigmaFraction
        self.seed = seed
        self.valueNorm = valueNorm
    }

    public func samples(for method: ExplanationMethod) -> Int { samples ?? method.defaultSamples ?? 0 }
}
