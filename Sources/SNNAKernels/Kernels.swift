import CKernels

/// Swift entry points to the vectorised C loops (compiled with -O3 -ffast-math, build-notes §7).
/// Shapes are row-major; the C header documents each formula.
public enum Kernels {
    public static func layerNormForward(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                        mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                                        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, cols: Int,
                                        eps: Float) {
        ck_layernorm_forward(x, out, mean, rstd, gamma, beta, rows, cols, eps)
    }

    public static func layerNormBackward(_ x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         gamma: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                                         dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int, accumulate: Bool) {
        ck_layernorm_backward(x, mean, rstd, gamma, dout, dx, rows, cols, accumulate ? 1 : 0)
    }

    /// The softmax's exp for x ≤ 0 (inline polynomial, about 1 ulp).
    public static func softmaxExp(_ x: Float) -> Float { ck_softmax_exp(x) }

    /// The float32 erf GELU uses (rational approximation, |error| < 1e-6).
    public static func erf(_ x: Float) -> Float { ck_erff(x) }

    public static func geluForward(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        ck_gelu_forward(x, out, count)
    }

    public static func geluBackward(_ x: UnsafePointer<Float>, dout: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                    count: Int) {
        ck_gelu_backward(x, dout, dx, count)
    }

    public static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil, scale: Float = 1) {
        ck_softmax_rows(s, rows, cols, ld ?? cols, scale)
    }

    /// Unnormalised softmax: rows become exp(scale·(s − max)), `inverseSums` receives 1/Σ per row.
    public static func softmaxExpRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil, scale: Float,
                                      inverseSums: UnsafeMutablePointer<Float>) {
        ck_softmax_exp_rows(s, rows, cols, ld ?? cols, scale, inverseSums)
    }

    public static func scaleRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                                 scale: UnsafePointer<Float>) {
        ck_scale_rows(x, rows, cols, ld, scale)
    }

    public static func softmaxBackwardRows(_ a: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        ck_softmax_backward_rows(a, g, rows, cols)
    }

    /// outs[t][s] += Σ_n weights[t][n] · relu(a[n,s]·g[n,s]).
    public static func reluProductGemv(a: UnsafePointer<Float>, g: UnsafePointer<Float>, rows: Int, cols: Int,
                                       weights: [UnsafePointer<Float>], outs: [UnsafeMutablePointer<Float>]) {
        precondition(weights.count == outs.count)
        if weights.isEmpty { return }
        weights.map { Optional($0) }.withUnsafeBufferPointer { w in
            outs.map { Optional($0) }.withUnsafeBufferPointer { o in
                ck_relu_product_gemv(a, g, rows, cols, w.baseAddress, o.baseAddress, Int32(weights.count))
            }
        }
    }

    public static func axpy(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: Float, count: Int) {
        ck_axpy(out, x, scale, count)
    }

    public static func addBiasRows(_ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        ck_add_bias_rows(out, bias, rows, cols)
    }

    public static func scaleColumns(_ x: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>, rows: Int, cols: Int) {
        ck_scale_columns(x, scale, rows, cols)
    }
}
