import SNNAModel

extension Attribution {
    /// §4.9: the NormAtt chain R of the clean input, masked by Wm = mean_h relu(mean_i G^L(x + ε_i)) — the noisy passes
    /// contribute only their last-layer gradient; the clean pass is not part of the average.
    public static func snna(_ s: AttentionSummary, noisyGradients: [[Float]], heads: Int) -> [Float] {
        maskedChain(smoothedLastLayerMask(noisyGradients, heads: heads, tokens: s.tokens), s.normChain!)
    }
}
