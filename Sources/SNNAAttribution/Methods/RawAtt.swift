import SNNAModel

extension Attribution {
    /// §4.1: a = mean_h A^L[h, 0, 1:]. Class-agnostic, no gradient.
    public static func rawAtt(_ s: AttentionSummary) -> [Float] { withoutCLS(s.rawAttention!) }
}
