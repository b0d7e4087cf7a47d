import SNNAModel

extension Attribution {
    /// §4.2: a = (Â^L ⋯ Â^1)[0, 1:], Â = (mean_h A + I)/2 (the row sum is exactly 2, §7.3 S6).
    public static func rollout(_ s: AttentionSummary) -> [Float] { withoutCLS(s.rollout!) }
}
