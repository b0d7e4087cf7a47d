import SNNAModel

extension Attribution {
    /// §4.3: a = Σ_l mean_h G^l[h, 0, 1:]. No clamp; may be negative.
    public static func gradient(_ s: AttentionSummary) -> [Float] { withoutCLS(s.gradientSum!) }
}
