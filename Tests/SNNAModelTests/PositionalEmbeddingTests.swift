import Testing
import SNNAKernels
@testable import SNNAModel

@Suite struct PositionalEmbeddingTests {
    @Test func sourceCoordinatesMatchTheReferenceValues() {
        // Reference §1.3, 360×640 on the 28×28 DINO grid: scale 28/45.1 and 28/80.1, not 28/45 and 28/80.
        #expect(abs(PositionalEmbedding.sourceCoordinate(0, inSize: 28, outSize: 45, mode: .dino) - (-0.1895787)) < 2e-6)
        #expect(abs(PositionalEmbedding.sourceCoordinate(44, inSize: 28, outSize: 45, mode: .dino) - 27.127495) < 2e-5)
        #expect(abs(PositionalEmbedding.sourceCoordinate(0, inSize: 28, outSize: 80, mode: .dino) - (-0.3252185)) < 2e-6)
        #expect(abs(PositionalEmbedding.sourceCoordinate(79, inSize: 28, outSize: 80, mode: .dino) - 27.290260) < 2e-5)
        // The 28/45 reading would put row 44 at 27.189.
        #expect(abs(PositionalEmbedding.sourceCoordinate(44, inSize: 28, outSize: 45, mode: .size) - 27.188889) < 2e-5)
    }

    @Test func cubicWeightsArePyTorchs() {
        // A = −0.75: t = 0 is the identity, t = 0.5 gives (−0.09375, 0.59375, 0.59375, −0.09375).
        let w0 = PositionalEmbedding.cubicWeights(0)
        #expect(w0.0 == 0 && w0.1 == 1 && w0.2 == 0 && w0.3 == 0)
        let w = PositionalEmbedding.cubicWeights(0.5)
        #expect(abs(w.0 + 0.09375) < 1e-7 && abs(w.1 - 0.59375) < 1e-7 && abs(w.2 - 0.59375) < 1e-7 && abs(w.3 + 0.09375) < 1e-7)
    }

    /// Every output against a plain Double evaluation of §1.3 (src from the scale factor, floor, clamped taps,
    /// A = −0.75 weights, columns then rows), on a random grid.
    @Test(arguments: [PositionalInterpolation.dino, .size])
    func matchesAPlainEvaluationOfTheFormula(_ mode: PositionalInterpolation) {
        let g = 5, d = 3, rows = 7, cols = 11
        var rng = SeededRandom(seed: 21)
        let pos = Matrix(rows: 1 + g * g, cols: d, data: (0..<((1 + g * g) * d)).map { _ in rng.gaussian() })
        let out = PositionalEmbedding.interpolate(pos, gridSize: g, rows: rows, cols: cols, mode: mode)
        func weight(_ x: Double) -> Double {
            let a = -0.75, x = abs(x)
            if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
        func src(_ i: Int, _ outSize: Int) -> Double {
            let scale = mode == .dino ? Double(g) / (Double(outSize) + 0.1) : Double(g) / Double(outSize)
            return (Double(i) + 0.5) * scale - 0.5
        }
        for ch in 0..<d { #expect(out[0, ch] == pos[0, ch]) }
        for r in 0..<rows { for c in 0..<cols { for ch in 0..<d {
            let sr = src(r, rows), sc = src(c, cols)
            let r0 = Int(sr.rounded(.down)), c0 = Int(sc.rounded(.down))
            var v = 0.0
            for i in (r0 - 1)...(r0 + 2) { for j in (c0 - 1)...(c0 + 2) {
                let ri = min(max(i, 0), g - 1), cj = min(max(j, 0), g - 1)
                v += weight(sr - Double(i)) * weight(sc - Double(j)) * Double(pos[1 + ri * g + cj, ch])
            } }
            #expect(abs(Double(out[1 + r * cols + c, ch]) - v) < 1e-5, "(\(r), \(c), \(ch))")
        } } }
    }

    @Test func thePretrainingGridIsLeftAlone() {
        var rng = SeededRandom(seed: 3)
        let pos = Matrix(rows: 1 + 9, cols: 4, data: (0..<40).map { _ in rng.gaussian() })
        #expect(PositionalEmbedding.interpolate(pos, gridSize: 3, rows: 3, cols: 3, mode: .dino) == pos)
        // Same token count but not square (the code's w == h test): interpolated, so not the identity.
        let pos4 = Matrix(rows: 1 + 16, cols: 1, data: (0..<17).map { Float($0 * $0) })
        let stretched = PositionalEmbedding.interpolate(pos4, gridSize: 4, rows: 2, cols: 8, mode: .dino)
        #expect(stretched.rows == 17 && stretched != pos4)
    }
}
