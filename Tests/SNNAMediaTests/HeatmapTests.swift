import Testing
@testable import SNNAMedia

struct HeatmapTests {
    private let grid: [Float] = [1, 2, 4,
                                 8, 16, 32]

    @Test func upsampleEdgesAreConstantCopies() {
        let out = Heatmap.upsampleBilinear(grid, rows: 2, cols: 3, factor: 8)
        #expect(out.count == 16 * 24)
        func at(_ y: Int, _ x: Int) -> Float { out[y * 24 + x] }
        for y in 0..<4 {
            for x in 0..<4 {
                #expect(at(y, x) == 1)
                #expect(at(y, 23 - x) == 4)
                #expect(at(15 - y, x) == 8)
                #expect(at(15 - y, 23 - x) == 32)
            }
        }
        // Along the top edge rows stay copies of row 0, so they vary only with x.
        for y in 1..<4 { for x in 0..<24 { #expect(at(y, x) == at(0, x)) } }
    }

    @Test func upsampleInteriorMatchesHandComputation() {
        let out = Heatmap.upsampleBilinear(grid, rows: 2, cols: 3, factor: 8)
        // Output (y=6, x=13): src_y = 6.5/8 − 0.5 = 0.3125, src_x = 13.5/8 − 0.5 = 1.1875.
        // Row 0: 2 + 0.1875·(4 − 2) = 2.375; row 1: 16 + 0.1875·(32 − 16) = 19; blend: 2.375 + 0.3125·16.625 = 7.5703125.
        #expect(out[6 * 24 + 13] == 7.5703125)
        // Output (y=11, x=4): src_y = 0.9375, src_x = 0.0625 → row 0: 1.0625, row 1: 8.5, value 1.0625 + 0.9375·7.4375.
        #expect(abs(out[11 * 24 + 4] - (1.0625 + 0.9375 * 7.4375)) < 1e-6)
    }

    @Test func upsampleFactorOneIsIdentity() {
        #expect(Heatmap.upsampleBilinear(grid, rows: 2, cols: 3, factor: 1) == grid)
    }

    @Test func normalizeMinMaxHandlesDegenerateInput() {
        #expect(Heatmap.normalizeMinMax([]) == [])
        #expect(Heatmap.normalizeMinMax([3, 3, 3]) == [0, 0, 0])
        #expect(Heatmap.normalizeMinMax([2, 4, 3]) == [0, 1, 0.5])
        let withBad = Heatmap.normalizeMinMax([.nan, 1, .infinity, 3, -.infinity])
        #expect(withBad == [0, 0, 0, 1, 0])
        #expect(Heatmap.normalizeMinMax([.nan, .nan]) == [0, 0])
        let huge = Heatmap.normalizeMinMax([-Float.greatestFiniteMagnitude, 0, .greatestFiniteMagnitude])
        #expect(huge == [0, 0.5, 1])
    }

    @Test func colorizeTruncatesLikeNumpy() {
        // 255·0.5 = 127.5 → 127 (truncation), 255·0.999 = 254.7 → 254.
        let image = Heatmap.colorize([0, 0.5, 0.999, 1], width: 2, height: 2)
        let expected = [Colormap.jet(0), Colormap.jet(127), Colormap.jet(254), Colormap.jet(255)]
        for (p, c) in expected.enumerated() {
            #expect(Array(image.pixels[p * 3..<p * 3 + 3]) == [c.r, c.g, c.b], "pixel \(p)")
        }
    }

    @Test func blendIsGlobalMinMaxOfSum() {
        let photo = RGBImage(width: 2, height: 1, pixels: [20, 100, 255, 50, 60, 70])
        let heat = RGBImage(width: 2, height: 1, pixels: [0, 0, 128, 255, 0, 0])
        // Sums in 1/255 units: 20, 100, 383, 305, 60, 70 → min 20, max 383, so 255·(s − 20)/363 truncated.
        let expected: [UInt8] = [0, 56, 255, 200, 28, 35]
        let blended = Heatmap.blend(photo: photo, heat: heat)
        for (a, e) in zip(blended.pixels, expected) { #expect(abs(Int(a) - Int(e)) <= 1, "\(a) vs \(e)") }
        #expect(blended.pixels[0] == 0 && blended.pixels[2] == 255)
        let flat = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 7, count: 12))
        #expect(Heatmap.blend(photo: flat, heat: flat) == RGBImage(width: 2, height: 2))
    }

    @Test func renderConstantMapGivesSizesWithoutNaN() {
        let photo = RGBImage(width: 24, height: 16, pixels: (0..<(24 * 16 * 3)).map { UInt8($0 % 251) })
        let (overlay, bare) = Heatmap.render(map: [Float](repeating: 0.3, count: 6), rows: 2, cols: 3,
                                             patchSize: 8, photo: photo)
        #expect(bare.width == 24 && bare.height == 16 && overlay.width == 24 && overlay.height == 16)
        // A constant map normalizes to zeros: every heat pixel is JET(0).
        let dark = Colormap.jet(0)
        #expect(bare.pixels == [UInt8]((0..<(24 * 16)).flatMap { _ in [dark.r, dark.g, dark.b] }))
        #expect(overlay.pixels.contains { $0 != 0 })
    }

    @Test func renderPeaksAtTheHottestPatch() {
        let photo = RGBImage(width: 24, height: 16)
        let (_, bare) = Heatmap.render(map: [0, 0, 0, 0, 0, 1], rows: 2, cols: 3, patchSize: 8, photo: photo)
        let last = (16 * 24 - 1) * 3
        let hot = Colormap.jet(255)
        #expect(Array(bare.pixels[last..<last + 3]) == [hot.r, hot.g, hot.b])
        #expect(Array(bare.pixels[0..<3]) == [0, 0, 128])
    }
}
