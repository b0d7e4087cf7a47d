import SNNAKernels

/// The Gaussian input noise of SNNA and SmoothGrad (reference §4.8–4.9), reproducible from a seed.
/// Sample i is the i-th block of `count` draws from one generator seeded with `seed`, so a method's noise does not
/// depend on which other methods run in the same call.
public struct NoiseSampler: Sendable {
    private var rng: SeededRandom
    public let sigma: Float

    public init(seed: UInt64, sigma: Float) {
        rng = SeededRandom(seed: seed)
        self.sigma = sigma
    }

    /// σ = fraction · (max − min) over every value of the normalized input tensor.
    public static func sigma(for values: [Float], fraction: Float) -> Float {
        guard let lo = values.min(), let hi = values.max() else { return 0 }
        return fraction * (hi - lo)
    }

    public mutating func next(count: Int) -> [Float] {
        var noise = [Float](repeating: 0, count: count)
        rng.fillGaussian(&noise, sigma: sigma)
        return noise
    }
}
