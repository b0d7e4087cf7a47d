import SNNAModel

extension Attribution {
    /// §4.4 as coded: a = Σ_l mean_h relu(A^l ⊙ G^l)[h, 0, 1:], summed over every layer (the paper says last layer only).
    public static func attGrad(_ s: AttentionSummary) -> [Float] { withoutCLS(s.attentionGradientSum!) }
}
