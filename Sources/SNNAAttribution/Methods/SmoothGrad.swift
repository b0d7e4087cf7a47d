import SNNAModel

extension Attribution {
    /// §4.8 (the code's SGradient): AttIG with α·x replaced by x + ε_i.
    public static func smoothGrad(_ s: AttentionSummary, noisyGradients: [[Float]], heads: Int) -> [Float] {
        maskedChain(smoothedLastLayerMask(noisyGradients, heads: heads, tokens: s.tokens), s.genericChain!)
    }
}
