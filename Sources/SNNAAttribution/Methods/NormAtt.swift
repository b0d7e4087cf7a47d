import SNNAModel

extension Attribution {
    /// §4.6: a = (cam^L ⋯ cam^1)[0, 1:], cam = mean_h relu(ν̂ A ⊙ G) + I, ν̂ by row (code) or column (paper).
    public static func normAtt(_ s: AttentionSummary) -> [Float] { withoutCLS(s.normChain!) }
}
