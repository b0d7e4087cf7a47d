import Testing
@testable import SNNAKernels

/// Finite-difference checks of each kernel's backward against its own forward, in Double where the loss is summed.
@Suite struct KernelGradientTests {
    var rng = SeededRandom(seed: 42)

    mutating func randoms(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in rng.gaussian() * scale } }

    /// Loss L = Σ w ⊙ f(x); returns dL/dx by central differences in Double.
    func numericGradient(_ x: [Float], weights w: [Float], eps: Float, _ f: ([Float]) -> [Float]) -> [Double] {
        (0..<x.count).map { i in
            var xp = x, xm = x
            xp[i] += eps
            xm[i] -= eps
            let lp = zip(f(xp), w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let lm = zip(f(xm), w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            return (lp - lm) / (2 * Double(eps))
        }
    }

    func expectClose(_ analytic: [Float], _ numeric: [Double], tolerance: Double, _ what: String) {
        let scale = max(numeric.map(abs).max() ?? 1, 1e-3)
        for i in analytic.indices {
            let err = abs(Double(analytic[i]) - numeric[i])
            #expect(err <= tolerance * scale, "\(what)[\(i)]: analytic \(analytic[i]) vs numeric \(numeric[i])")
        }
    }

    @Test mutating func layerNormBackwardMatchesFiniteDifferences() {
        let rows = 3, cols = 17
        let x = randoms(rows * cols, scale: 2), gamma = randoms(cols).map { 1 + 0.3 * $0 }, beta = randoms(cols)
        let w = randoms(rows * cols)
        func forward(_ input: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: input.count)
            Kernels.layerNormForward(input, &out, mean: nil, rstd: nil, gamma: gamma, beta: beta, rows: rows, cols: cols, eps: 1e-6)
            return out
        }
        var mean = [Float](repeating: 0, count: rows), rstd = mean, out = x
        Kernels.layerNormForward(x, &out, mean: &mean, rstd: &rstd, gamma: gamma, beta: beta, rows: rows, cols: cols, eps: 1e-6)
        var dx = [Float](repeating: 0.5, count: x.count)
        Kernels.layerNormBackward(x, mean: mean, rstd: rstd, gamma: gamma, dout: w, dx: &dx, rows: rows, cols: cols, accumulate: false)
        expectClose(dx, numericGradient(x, weights: w, eps: 1e-2, forward), tolerance: 2e-3, "LayerNorm dx")
        // Accumulate mode adds onto what is there.
        var acc = [Float](repeating: 1, count: x.count)
        Kernels.layerNormBackward(x, mean: mean, rstd: rstd, gamma: gamma, dout: w, dx: &acc, rows: rows, cols: cols, accumulate: true)
        for i in acc.indices { #expect(abs(acc[i] - 1 - dx[i]) < 1e-5) }
    }

    @Test mutating func layerNormForwardNormalizesEachRow() {
        let cols = 64
        let x = randoms(2 * cols, scale: 5).map { $0 + 3 }
        var out = x
        let ones = [Float](repeating: 1, count: cols), zeros = [Float](repeating: 0, count: cols)
        Kernels.layerNormForward(x, &out, mean: nil, rstd: nil, gamma: ones, beta: zeros, rows: 2, cols: cols, eps: 1e-6)
        for r in 0..<2 {
            let row = out[(r * cols)..<((r + 1) * cols)]
            let mean = row.reduce(0, +) / Float(cols)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(cols)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4)
        }
    }

    @Test mutating func geluIsTheExactErfFormAndItsDerivative() {
        let x: [Float] = [-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 6]
        var y = x
        Kernels.geluForward(x, &y, count: x.count)
        for i in x.indices {
            let exact = 0.5 * Double(x[i]) * (1 + erfDouble(Double(x[i]) / 2.0.squareRoot()))
            #expect(abs(Double(y[i]) - exact) < 2e-6, "GELU(\(x[i])) = \(y[i]), exact \(exact)")
        }
        // tanh approximation differs by ~1e-3 at x = -1.5: make sure we are not using it.
        let tanhApprox = 0.5 * -1.5 * (1 + tanhDouble(0.7978845608 * (-1.5 + 0.044715 * -3.375)))
        #expect(abs(Double(y[1]) - tanhApprox) > 1e-4)
        let w = randoms(x.count)
        var dx = x
        Kernels.geluBackward(x, dout: w, dx: &dx, count: x.count)
        let numeric = numericGradient(x, weights: w, eps: 1e-2) { input in
            var out = input
            Kernels.geluForward(input, &out, count: input.count)
            return out
        }
        expectClose(dx, numeric, tolerance: 1e-3, "GELU dx")
    }

    @Test mutating func softmaxBackwardMatchesFiniteDifferences() {
        let rows = 2, cols = 9
        let s = randoms(rows * cols, scale: 2), w = randoms(rows * cols)
        func forward(_ input: [Float]) -> [Float] {
            var a = input
            Kernels.softmaxRows(&a, rows: rows, cols: cols)
            return a
        }
        let a = forward(s)
        for r in 0..<rows { #expect(abs(a[(r * cols)..<((r + 1) * cols)].reduce(0, +) - 1) < 1e-5) }
        var g = w
        Kernels.softmaxBackwardRows(a, &g, rows: rows, cols: cols)
        expectClose(g, numericGradient(s, weights: w, eps: 1e-2, forward), tolerance: 2e-3, "softmax dS")
    }

    @Test func softmaxScaleAndLeadingDimension() {
        // Two rows of 3 inside a buffer of stride 4; the padding column must stay untouched.
        var s: [Float] = [1, 2, 3, 99, 0, 0, 0, 99]
        Kernels.softmaxRows(&s, rows: 2, cols: 3, ld: 4, scale: 0.5)
        let e = [0.5, 1.0, 1.5].map { exp1($0) }
        let z = e.reduce(0, +)
        for j in 0..<3 { #expect(abs(Double(s[j]) - e[j] / z) < 1e-6) }
        for j in 4..<7 { #expect(abs(s[j] - 1.0 / 3) < 1e-6) }
        #expect(s[3] == 99 && s[7] == 99)
    }

    @Test mutating func reluProductGemvMatchesLoops() {
        let n = 7, m = 5
        let a = randoms(n * m), g = randoms(n * m), w1 = randoms(n), w2 = randoms(n)
        var o1 = [Float](repeating: 1, count: m), o2 = [Float](repeating: 0, count: m)
        w1.withUnsafeBufferPointer { p1 in
            w2.withUnsafeBufferPointer { p2 in
                o1.withUnsafeMutableBufferPointer { q1 in
                    o2.withUnsafeMutableBufferPointer { q2 in
                        Kernels.reluProductGemv(a: a, g: g, rows: n, cols: m, weights: [p1.baseAddress!, p2.baseAddress!],
                                                outs: [q1.baseAddress!, q2.baseAddress!])
                    }
                }
            }
        }
        for s in 0..<m {
            var e1 = 1.0, e2 = 0.0
            for r in 0..<n {
                let p = max(Double(a[r * m + s]) * Double(g[r * m + s]), 0)
                e1 += Double(w1[r]) * p
                e2 += Double(w2[r]) * p
            }
            #expect(abs(Double(o1[s]) - e1) < 1e-5)
            #expect(abs(Double(o2[s]) - e2) < 1e-5)
        }
    }

    @Test func gemmFollowsRowMajorTransposes() {
        // A (2×3), B (2×3) → A·Bᵀ (2×2).
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [1, 0, -1, 2, 1, 0]
        var c = [Float](repeating: 7, count: 4)
        BLAS.gemm(transB: true, m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 3, c: &c, ldc: 2)
        #expect(c == [-2, 4, -2, 13])
        var y = [Float](repeating: 0, count: 3)
        BLAS.gemv(transA: true, m: 2, n: 3, a: a, lda: 3, x: [1, -1], y: &y)
        #expect(y == [-3, -3, -3])
    }

    @Test func seededRandomIsReproducibleAndRoughlyNormal() {
        var r1 = SeededRandom(seed: 9), r2 = SeededRandom(seed: 9), r3 = SeededRandom(seed: 10)
        let a = (0..<20000).map { _ in r1.gaussian() }
        let b = (0..<20000).map { _ in r2.gaussian() }
        let c = (0..<4).map { _ in r3.gaussian() }
        #expect(a == b)
        #expect(Array(a.prefix(4)) != c)
        let mean = a.reduce(0, +) / Float(a.count)
        let variance = a.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(a.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
    }
}

#if canImport(Glibc)
import Glibc
func erfDouble(_ x: Double) -> Double { Glibc.erf(x) }
func tanhDouble(_ x: Double) -> Double { Glibc.tanh(x) }
func exp1(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Foundation
func erfDouble(_ x: Double) -> Double { Foundation.erf(x) }
func tanhDouble(_ x: Double) -> Double { Foundation.tanh(x) }
func exp1(_ x: Double) -> Double { Foundation.exp(x) }
#endif

@Suite struct FastErfTests {
    /// The vectorisable erf behind GELU against glibc's double erf on a dense grid over and beyond [-4, 4].
    @Test func erfIsAccurateEverywhere() {
        var worst = 0.0
        for i in -60000...60000 {
            let x = Float(i) / 10000
            worst = max(worst, abs(Double(Kernels.erf(x)) - erfDouble(Double(x))))
        }
        #expect(worst < 1e-6, "max |erf error| \(worst)")
        #expect(Kernels.erf(0) == 0 && Kernels.erf(10) == 1 && Kernels.erf(-10) == -1)
    }
}

@Suite struct SoftmaxExpTests {
    /// The softmax's inline exp against glibc's double exp over its whole domain (arguments ≤ 0).
    @Test func expIsAccurateForNonPositiveArguments() {
        var worst = 0.0
        for i in 0...870000 {
            let x = -Float(i) / 10000
            let exact = exp1(Double(x))
            let got = Double(Kernels.softmaxExp(x))
            if exact > 1e-37 { worst = max(worst, abs(got - exact) / exact) }
        }
        #expect(worst < 1e-6, "max relative error \(worst)")
        #expect(Kernels.softmaxExp(0) == 1)
        #expect(Kernels.softmaxExp(-200) < 1e-37)
    }
}
