import SNNAModel

/// The methods of reference §4 as short functions of the clean pass (an `AttentionSummary`) and, for the smoothed
/// methods, of last-layer gradients on perturbed inputs. Every map is the CLS row with the CLS column dropped.
public enum Attribution {
    /// a[j] = v[j + 1] for the patch tokens.
    static func withoutCLS(_ v: [Float]) -> [Float] { Array(v.dropFirst()) }

    /// Wm[0, :] = mean_h relu(mean_samples G^L[h, 0, :]): the clamp after averaging the samples, then the head mean
    /// (§4.7 step 3, §4.9 step 7).
    public static func smoothedLastLayerMask(_ gradients: [[Float]], heads: Int, tokens n: Int) -> [Float] {
        precondition(!gradients.isEmpty)
        var mask = [Float](repeating: 0, count: n)
        let invM = 1 / Float(gradients.count), invH = 1 / Float(heads)
        for h in 0..<heads {
            for s in 0..<n {
                var sum: Float = 0
                for g in gradients { sum += g[h * n + s] }
                mask[s] += max(sum * invM, 0) * invH
            }
        }
        return mask
    }

    /// (Wm ⊙ R)[0, 1:] = Wm[0, 1:] ⊙ R[0, 1:] (§7.3 S2).
    static func maskedChain(_ mask: [Float], _ chain: [Float]) -> [Float] {
        (1..<chain.count).map { mask[$0] * chain[$0] }
    }
}
