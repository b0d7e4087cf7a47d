import COpenBLAS

/// Row-major sgemm/sgemv through OpenBLAS. Every dense product of the engine goes through here.
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, with op(A) m×k and op(B) k×n, all row-major.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = alpha · op(A) · x + beta · y, A row-major m×n.
    @inline(__always)
    public static func gemv(transA: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}

extension BLAS {
    /// A row-major C = alpha·A·op(B) + beta·C with many rows, split by rows of A and C over the engine's workers
    /// (OpenBLAS itself runs single-threaded, see `Parallel`).
    public static func gemmRows(transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        Parallel.forEachChunk(m, minimum: 64) { rows in
            gemm(transB: transB, m: rows.count, n: n, k: k, alpha: alpha, a: a + rows.lowerBound * lda, lda: lda,
                 b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }
}
