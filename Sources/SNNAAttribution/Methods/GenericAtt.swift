import SNNAModel

extension Attribution {
    /// §4.5: a = ((I + cam^L) ⋯ (I + cam^1))[0, 1:], cam = mean_h relu(A ⊙ G).
    public static func genericAtt(_ s: AttentionSummary) -> [Float] { withoutCLS(s.genericChain!) }
}
