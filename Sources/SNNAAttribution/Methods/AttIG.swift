import SNNAModel

extension Attribution {
    /// The α values of §4.7: linspace(0, 1, steps), both ends included.
    public static func integrationSteps(_ steps: Int) -> [Float] {
        steps <= 1 ? [0] : (0..<steps).map { Float($0) / Float(steps - 1) }
    }

    /// §4.7 as coded: Wm = mean_h relu(mean_α G^L(α·x)), then Wm[0, 1:] ⊙ GenericAtt's R[0, 1:].
    /// `scaledGradients` holds G^L[h, 0, :] (H × N) for each α.
    public static func attIG(_ s: AttentionSummary, scaledGradients: [[Float]], heads: Int) -> [Float] {
        maskedChain(smoothedLastLayerMask(scaledGradients, heads: heads, tokens: s.tokens), s.genericChain!)
    }
}
