import SNNAKernels

/// Resizes the pretraining grid of positional embeddings to the grid of the input, exactly as PyTorch's
/// `F.interpolate(mode='bicubic', align_corners=False)` does it in the DINO and DINOv2 code (reference §1.3).
public enum PositionalEmbedding {
    /// PyTorch's cubic convolution constant (Pillow uses −0.5; this is not that).
    static let cubicA: Float = -0.75

    /// The source coordinate of output index `i` when `inSize` grid cells become `outSize`.
    /// `.dino` maps with the scale factor (out + 0.1)/in, which PyTorch uses directly (not out/in).
    public static func sourceCoordinate(_ i: Int, inSize: Int, outSize: Int, mode: PositionalInterpolation) -> Float {
        let scale: Float
        switch mode {
        case .dino: scale = Float(1.0 / ((Double(outSize) + 0.1) / Double(inSize)))
        case .size: scale = Float(inSize) / Float(outSize)
        }
        return (Float(i) + 0.5) * scale - 0.5
    }

    /// The four cubic weights for fractional offset t, taps i0−1 … i0+2.
    static func cubicWeights(_ t: Float) -> (Float, Float, Float, Float) {
        let a = cubicA
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return (far(t + 1), near(t), near(1 - t), far(2 - t))
    }

    /// Returns (1 + rows·cols) × D: the CLS row unchanged, then the grid resized to rows × cols, row-major.
    public static func interpolate(_ posEmbed: Matrix, gridSize g: Int, rows: Int, cols: Int,
                                   mode: PositionalInterpolation) -> Matrix {
        let d = posEmbed.cols
        precondition(posEmbed.rows == 1 + g * g)
        // Skipped only for the pretraining grid itself (the code's test is "same token count and square").
        if rows * cols == g * g && rows == cols { return posEmbed }
        var out = Matrix(rows: 1 + rows * cols, cols: d)
        for c in 0..<d { out[0, c] = posEmbed[0, c] }
        struct Taps { var index: (Int, Int, Int, Int); var weight: (Float, Float, Float, Float) }
        func taps(_ i: Int, _ outSize: Int) -> Taps {
            let src = sourceCoordinate(i, inSize: g, outSize: outSize, mode: mode)
            let i0 = Int(src.rounded(.down))
            let t = src - Float(i0)
            func clamp(_ v: Int) -> Int { min(max(v, 0), g - 1) }
            return Taps(index: (clamp(i0 - 1), clamp(i0), clamp(i0 + 1), clamp(i0 + 2)), weight: cubicWeights(t))
        }
        let rowTaps = (0..<rows).map { taps($0, rows) }
        let colTaps = (0..<cols).map { taps($0, cols) }
        posEmbed.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    let rt = rowTaps[r]
                    let base = (rt.index.0, rt.index.1, rt.index.2, rt.index.3)
                    for c in 0..<cols {
                        let ct = colTaps[c]
                        let o = (1 + r * cols + c) * d
                        for ch in 0..<d {
                            // Along the columns for each of the four source rows, then along the rows.
                            @inline(__always) func along(_ sr: Int) -> Float {
                                let rowBase = (1 + sr * g) * d + ch
                                return src[rowBase + ct.index.0 * d] * ct.weight.0 + src[rowBase + ct.index.1 * d] * ct.weight.1
                                    + src[rowBase + ct.index.2 * d] * ct.weight.2 + src[rowBase + ct.index.3 * d] * ct.weight.3
                            }
                            dst[o + ch] = along(base.0) * rt.weight.0 + along(base.1) * rt.weight.1
                                + along(base.2) * rt.weight.2 + along(base.3) * rt.weight.3
                        }
                    }
                }
            }
        }
        return out
    }
}
