import Foundation
import Testing
@testable import SNNAMedia

struct OverlayTests {
    private func gradientFrame(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(truncatingIfNeeded: x * 3)
                pixels[i + 1] = UInt8(truncatingIfNeeded: y * 5)
                pixels[i + 2] = UInt8(truncatingIfNeeded: x + y)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private let map: [Float] = [0.1, 0.9, -0.4,
                                2.0, 0.3, 0.7]

    private func pixel(_ bytes: [UInt8], _ width: Int, _ x: Int, _ y: Int) -> [UInt8] {
        let i = (y * width + x) * 3
        return Array(bytes[i..<i + 3])
    }

    // MARK: heatLayer

    @Test func heatLayerCoversOnlyTheTopLeftRegionWithJetOfTheNormalizedMap() {
        let layer = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 50, coveredHeight: 30,
                                      frameWidth: 64, frameHeight: 40)
        #expect(layer.width == 64 && layer.height == 40)
        #expect(layer.colors.count == 64 * 40 * 3 && layer.weight.count == 64 * 40)
        let expected = Heatmap.colorize(
            Heatmap.normalizeMinMax(HeatmapResize.bilinear(map, rows: 2, cols: 3, width: 50, height: 30)),
            width: 50, height: 30)
        var mismatches = 0
        for y in 0..<40 {
            for x in 0..<64 {
                let inside = x < 50 && y < 30
                #expect(layer.weight[y * 64 + x] == (inside ? 255 : 0))
                let got = pixel(layer.colors, 64, x, y)
                let want = inside ? pixel(expected.pixels, 50, x, y) : [0, 0, 0]
                if got != want { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        // The map's maximum (2.0, bottom-left patch) is dark red and its minimum (−0.4, top-right) dark blue.
        #expect(pixel(layer.colors, 64, 0, 29) == [128, 0, 0])
        #expect(pixel(layer.colors, 64, 49, 0) == [0, 0, 128])
    }

    @Test func heatLayerOfAConstantMapIsTheBottomJetColour() {
        let layer = Overlay.heatLayer(map: [Float](repeating: 3, count: 4), rows: 2, cols: 2,
                                      coveredWidth: 10, coveredHeight: 10, frameWidth: 10, frameHeight: 10)
        let jet0 = Colormap.jet(0)
        for p in 0..<100 {
            #expect(layer.weight[p] == 255)
            #expect(pixel(layer.colors, 10, p % 10, p / 10) == [jet0.r, jet0.g, jet0.b])
        }
    }

    @Test func heatLayerLargerThanTheFrameIsClipped() {
        let layer = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 80, coveredHeight: 50,
                                      frameWidth: 64, frameHeight: 40)
        #expect(layer.weight.allSatisfy { $0 == 255 })
        let full = Heatmap.colorize(
            Heatmap.normalizeMinMax(HeatmapResize.bilinear(map, rows: 2, cols: 3, width: 80, height: 50)),
            width: 80, height: 50)
        for (x, y) in [(0, 0), (63, 0), (0, 39), (63, 39), (31, 17)] {
            #expect(pixel(layer.colors, 64, x, y) == pixel(full.pixels, 80, x, y))
        }
        let none = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 0, coveredHeight: 0,
                                     frameWidth: 8, frameHeight: 8)
        #expect(none.weight.allSatisfy { $0 == 0 })
    }

    // MARK: compose

    private let bars = [ActionBar(label: "forward", probability: 0.91, active: true),
                        ActionBar(label: "turn_left", probability: 0.2, active: false)]

    /// Whether (x, y) lies in a region compose may draw on besides the heat map.
    private func inDecoration(_ layout: Overlay.Layout, _ x: Int, _ y: Int) -> Bool {
        if let panel = layout.panel, panel.contains(x, y) { return true }
        if layout.timestamp.contains(x, y) { return true }
        if let caption = layout.caption, caption.contains(x, y) { return true }
        return false
    }

    @Test func zeroOpacityLeavesTheFrameOutsideThePanelAndText() {
        let frame = gradientFrame(width: 320, height: 180)
        let heat = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 320, coveredHeight: 180,
                                     frameWidth: 320, frameHeight: 180)
        let out = Overlay.compose(frame: frame, heat: heat, heatOpacity: 0, bars: bars,
                                  timestamp: "00:01:23.456", caption: "snna: forward")
        let layout = Overlay.Layout(width: 320, height: 180, bars: bars, timestamp: "00:01:23.456",
                                    caption: "snna: forward")
        var changedOutside = 0, changedInside = 0
        for y in 0..<180 {
            for x in 0..<320 where pixel(out.pixels, 320, x, y) != pixel(frame.pixels, 320, x, y) {
                if inDecoration(layout, x, y) { changedInside += 1 } else { changedOutside += 1 }
            }
        }
        #expect(changedOutside == 0)
        #expect(changedInside > 500)  // the panel, bars and text were drawn
        // Nothing at all to draw: the frame comes back unchanged.
        #expect(Overlay.compose(frame: frame, heat: nil, heatOpacity: 1, bars: [], timestamp: "", caption: nil) == frame)
    }

    @Test func fullOpacityShowsTheHeatColoursInTheCoveredRegion() {
        let frame = gradientFrame(width: 320, height: 180)
        let heat = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 240, coveredHeight: 180,
                                     frameWidth: 320, frameHeight: 180)
        let out = Overlay.compose(frame: frame, heat: heat, heatOpacity: 1, bars: bars,
                                  timestamp: "00:00:01.000", caption: nil)
        let layout = Overlay.Layout(width: 320, height: 180, bars: bars, timestamp: "00:00:01.000", caption: nil)
        var wrong = 0
        for y in 0..<180 {
            for x in 0..<320 where !inDecoration(layout, x, y) {
                let want = x < 240 ? pixel(heat.colors, 320, x, y) : pixel(frame.pixels, 320, x, y)
                if pixel(out.pixels, 320, x, y) != want { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    @Test func halfOpacityAveragesFrameAndHeat() {
        let frame = RGBImage(width: 40, height: 40, pixels: [UInt8](repeating: 200, count: 40 * 40 * 3))
        let heat = Overlay.HeatLayer(width: 40, height: 40, colors: [UInt8](repeating: 0, count: 40 * 40 * 3),
                                     weight: [UInt8](repeating: 255, count: 40 * 40))
        let out = Overlay.compose(frame: frame, heat: heat, heatOpacity: 0.5, bars: [], timestamp: "", caption: nil)
        #expect(out.pixels.allSatisfy { $0 == 100 })
        // Weight scales the opacity: w = 51 (0.2) at α = 1 keeps 80 % of the frame.
        let light = Overlay.HeatLayer(width: 40, height: 40, colors: [UInt8](repeating: 0, count: 40 * 40 * 3),
                                      weight: [UInt8](repeating: 51, count: 40 * 40))
        let faint = Overlay.compose(frame: frame, heat: light, heatOpacity: 1, bars: [], timestamp: "", caption: nil)
        #expect(faint.pixels.allSatisfy { $0 == 160 })
    }

    private func countPixels(_ image: RGBImage, equalTo color: (UInt8, UInt8, UInt8), rows: Range<Int>) -> Int {
        var count = 0
        for y in rows where y >= 0 && y < image.height {
            for x in 0..<image.width where pixel(image.pixels, image.width, x, y) == [color.0, color.1, color.2] {
                count += 1
            }
        }
        return count
    }

    @Test func barLengthFollowsTheProbabilityAndActivity() {
        for height in [360, 720] {
            let width = height * 16 / 9
            let frame = RGBImage(width: width, height: height)
            let rows = [ActionBar(label: "forward", probability: 1, active: true),
                        ActionBar(label: "stop", probability: 0.2, active: true),
                        ActionBar(label: "turn_left", probability: 0.9, active: false)]
            let out = Overlay.compose(frame: frame, heat: nil, heatOpacity: 0, bars: rows,
                                      timestamp: "00:00:00.000", caption: nil)
            let layout = Overlay.Layout(width: width, height: height, bars: rows, timestamp: "00:00:00.000", caption: nil)
            let green = Overlay.Style.activeBar, grey = Overlay.Style.inactiveBar
            let bands = layout.rows.map { $0.y..<($0.y + BitmapFont.glyphHeight * layout.scale) }
            let full = countPixels(out, equalTo: green, rows: bands[0])
            let fifth = countPixels(out, equalTo: green, rows: bands[1])
            #expect(full > 0 && fifth > 0)
            #expect(full > 4 * fifth && full < 6 * fifth, "p=1: \(full) green pixels, p=0.2: \(fifth)")
            #expect(countPixels(out, equalTo: green, rows: bands[2]) == 0)
            #expect(countPixels(out, equalTo: grey, rows: bands[2]) > 0)
        }
    }

    @Test func layoutScalesWithFrameHeight() {
        #expect(Overlay.Layout(width: 640, height: 360, bars: bars, timestamp: "", caption: nil).scale == 1)
        #expect(Overlay.Layout(width: 1280, height: 720, bars: bars, timestamp: "", caption: nil).scale == 2)
        #expect(Overlay.Layout(width: 1920, height: 1080, bars: bars, timestamp: "", caption: nil).scale == 3)
        #expect(Overlay.Layout(width: 32, height: 18, bars: bars, timestamp: "", caption: nil).scale == 1)
        // The timestamp sits at the bottom-left, inside a 720p frame.
        let layout = Overlay.Layout(width: 1280, height: 720, bars: bars, timestamp: "00:01:23.456", caption: "snna")
        #expect(layout.timestamp.x < 40 && layout.timestamp.y + layout.timestamp.h <= 720 && layout.timestamp.y > 650)
        let caption = try! #require(layout.caption)
        #expect(caption.x + caption.w <= 1280 && caption.x > 640 && caption.y == layout.timestamp.y)
    }

    @Test func tinyAndOddFramesDoNotCrash() {
        for (w, h) in [(32, 18), (1, 1), (0, 0), (7, 400), (400, 3)] {
            let frame = gradientFrame(width: w, height: h)
            let heat = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: w / 2 + 1, coveredHeight: h,
                                         frameWidth: w, frameHeight: h)
            let manyBars = (0..<6).map { ActionBar(label: "a_very_long_action_label_\($0)", probability: Float($0) / 5,
                                                    active: $0.isMultiple(of: 2)) }
            + [ActionBar(label: "odd", probability: .nan, active: true),
               ActionBar(label: "big", probability: 7, active: true),
               ActionBar(label: "neg", probability: -1, active: false)]
            let out = Overlay.compose(frame: frame, heat: heat, heatOpacity: 0.6, bars: manyBars,
                                      timestamp: "00:00:00.040", caption: "snna: a_very_long_action_label_0")
            #expect(out.width == w && out.height == h && out.pixels.count == w * h * 3)
        }
        // A heat layer of another size blends only where both overlap.
        let frame = gradientFrame(width: 32, height: 18)
        let other = Overlay.heatLayer(map: map, rows: 2, cols: 3, coveredWidth: 64, coveredHeight: 64,
                                      frameWidth: 64, frameHeight: 64)
        let out = Overlay.compose(frame: frame, heat: other, heatOpacity: 1, bars: [], timestamp: "", caption: nil)
        #expect(pixel(out.pixels, 32, 31, 17) == pixel(other.colors, 64, 31, 17))
    }

    @Test func probabilityTextHasTwoDecimals() {
        #expect(Overlay.probabilityText(0.834) == "0.83")
        #expect(Overlay.probabilityText(1) == "1.00")
        #expect(Overlay.probabilityText(0.05) == "0.05")
        #expect(Overlay.probabilityText(0) == "0.00")
        #expect(Overlay.probabilityText(.nan) == "-.--")
    }

    // MARK: timestamp

    @Test func timestampFormatting() {
        #expect(Overlay.timestamp(seconds: 0) == "00:00:00.000")
        #expect(Overlay.timestamp(seconds: 3661.5) == "01:01:01.500")
        #expect(Overlay.timestamp(seconds: 83.456) == "00:01:23.456")
        #expect(Overlay.timestamp(seconds: 59.9996) == "00:01:00.000")
        #expect(Overlay.timestamp(seconds: -1.25) == "-00:00:01.250")
        #expect(Overlay.timestamp(seconds: 360_000) == "100:00:00.000")
        #expect(Overlay.timestamp(seconds: .nan) == "--:--:--.---")
        #expect(Overlay.timestamp(seconds: .infinity) == "--:--:--.---")
        #expect(Overlay.timestamp(seconds: -0.0001) == "00:00:00.000")
    }

    // MARK: sample for a human

    /// Writes a 640×360 composed frame when SNNA_OVERLAY_SAMPLE names a path (e.g. /tmp/overlay-sample.png).
    @Test func writesSamplePNGWhenAsked() throws {
        guard let path = ProcessInfo.processInfo.environment["SNNA_OVERLAY_SAMPLE"] else { return }
        let width = 640, height = 360
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                if y < 160 {  // sky
                    pixels[i] = UInt8(110 + y / 4); pixels[i + 1] = UInt8(150 + y / 4); pixels[i + 2] = 210
                } else {  // road with a dashed centre line converging to (320, 160)
                    let t = Double(y - 160) / 200
                    let centre = 320 + Int(Double(x - 320) * 0)
                    let halfWidth = Int(4 + 10 * t)
                    let dashed = ((y - 160) / 12) % 2 == 0
                    let onLine = abs(x - centre) < halfWidth / 2 && dashed
                    let grey = UInt8(70 + (y - 160) / 5)
                    pixels[i] = onLine ? 240 : grey; pixels[i + 1] = onLine ? 240 : grey; pixels[i + 2] = onLine ? 200 : grey
                }
            }
        }
        let frame = RGBImage(width: width, height: height, pixels: pixels)
        // A 14×14 map with a blob on the road ahead-left, covering the model's 360×360 crop at the top-left.
        var map = [Float](repeating: 0, count: 14 * 14)
        for r in 0..<14 { for c in 0..<14 { map[r * 14 + c] = Float(exp(-(pow(Double(r) - 8, 2) + pow(Double(c) - 9, 2)) / 6)) } }
        let heat = Overlay.heatLayer(map: map, rows: 14, cols: 14, coveredWidth: 360, coveredHeight: 360,
                                     frameWidth: width, frameHeight: height)
        let out = Overlay.compose(frame: frame, heat: heat, heatOpacity: 0.45,
                                  bars: [ActionBar(label: "forward", probability: 0.91, active: true),
                                         ActionBar(label: "stop", probability: 0.12, active: false),
                                         ActionBar(label: "turn_left", probability: 0.64, active: true),
                                         ActionBar(label: "turn_right", probability: 0.03, active: false)],
                                  timestamp: Overlay.timestamp(seconds: 83.456), caption: "snna: forward, turn_left")
        try PNGWriter.write(out, to: path)
    }
}

/// Nested so that `swift test --filter OverlayTests` runs them with the overlay tests.
extension OverlayTests {
    struct BitmapFontTests {
        /// Reference rows of 'A' in font8x8_basic (bit 0 = leftmost pixel).
        private let glyphA: [UInt8] = [0x0C, 0x1E, 0x33, 0x33, 0x3F, 0x33, 0x33, 0x00]

        private func isWhite(_ image: RGBImage, _ x: Int, _ y: Int) -> Bool {
            let i = (y * image.width + x) * 3
            return image.pixels[i] == 255 && image.pixels[i + 1] == 255 && image.pixels[i + 2] == 255
        }

        @Test func glyphTableHoldsTheReferenceA() {
            #expect(BitmapFont.rows(of: "A") == glyphA)
            #expect(BitmapFont.rows(of: " ") == [UInt8](repeating: 0, count: 8))
            // '~' is the last glyph; an off-by-one in the table layout would shift it.
            #expect(BitmapFont.rows(of: "~") == [0x6E, 0x3B, 0, 0, 0, 0, 0, 0])
        }

        @Test func drawsAPixelForEachSetBitLeftmostFirst() {
            for scale in [1, 3] {
                var image = RGBImage(width: 8 * scale, height: 8 * scale)
                BitmapFont.draw("A", into: &image, x: 0, y: 0, scale: scale, color: (255, 255, 255), shadow: false)
                for y in 0..<8 * scale {
                    for x in 0..<8 * scale {
                        let bit = (glyphA[y / scale] >> UInt8(x / scale)) & 1 == 1
                        #expect(isWhite(image, x, y) == bit, "scale \(scale) pixel (\(x), \(y))")
                    }
                }
            }
        }

        @Test func spaceDrawsNothingEvenWithShadow() {
            var image = RGBImage(width: 20, height: 12, pixels: [UInt8](repeating: 77, count: 20 * 12 * 3))
            let before = image
            BitmapFont.draw("  ", into: &image, x: 1, y: 1, scale: 1, color: (255, 255, 255))
            #expect(image == before)
        }

        @Test func shadowIsDarkAndOffsetByOneFontPixel() {
            var image = RGBImage(width: 20, height: 20, pixels: [UInt8](repeating: 128, count: 20 * 20 * 3))
            BitmapFont.draw("A", into: &image, x: 0, y: 0, scale: 2, color: (255, 255, 255))
            // Row 1 of 'A' is 0x1E (columns 1…4), row 2 is 0x33 (columns 0, 1, 4, 5): font pixel (col 1, row 1) casts
            // its shadow on (col 2, row 2), which the glyph leaves uncovered.
            #expect(isWhite(image, 1 * 2, 1 * 2))
            let i = (2 * 2 * 20 + 2 * 2) * 3
            #expect(Array(image.pixels[i..<i + 3]) == [0, 0, 0])
            // Top-left corner stays background: neither glyph nor shadow reaches it.
            #expect(Array(image.pixels[0..<3]) == [128, 128, 128])
        }

        @Test func nonASCIIIsDrawnAsQuestionMark() {
            var accented = RGBImage(width: 24, height: 10)
            var question = RGBImage(width: 24, height: 10)
            BitmapFont.draw("é\u{1F697}", into: &accented, x: 0, y: 0, scale: 1, color: (255, 255, 255))
            BitmapFont.draw("??", into: &question, x: 0, y: 0, scale: 1, color: (255, 255, 255))
            #expect(accented == question)
            #expect(accented != RGBImage(width: 24, height: 10))
        }

        @Test func clipsAtEveryEdge() {
            // Partly off the top-left: the visible part is the glyph shifted.
            var image = RGBImage(width: 8, height: 8)
            BitmapFont.draw("A", into: &image, x: -2, y: -1, scale: 1, color: (255, 255, 255), shadow: false)
            for y in 0..<8 {
                for x in 0..<8 {
                    let gx = x + 2, gy = y + 1
                    let bit = gx < 8 && gy < 8 && (glyphA[gy] >> UInt8(gx)) & 1 == 1
                    #expect(isWhite(image, x, y) == bit, "pixel (\(x), \(y))")
                }
            }
            // Far off and across every edge at a large scale: nothing outside the buffer is touched (no crash).
            var small = RGBImage(width: 10, height: 6)
            for (x, y) in [(-30, -30), (-5, -3), (7, 4), (9, 5), (10, 6), (-100, 2), (3, -100), (1000, 1000)] {
                BitmapFont.draw("Hello, world!", into: &small, x: x, y: y, scale: 3, color: (200, 10, 10))
            }
            #expect(small.pixels.count == 10 * 6 * 3)
            var empty = RGBImage(width: 0, height: 0)
            BitmapFont.draw("x", into: &empty, x: 0, y: 0, scale: 2, color: (1, 2, 3))
            #expect(empty.pixels.isEmpty)
        }

        @Test func widthIsEightPixelsPerCharacterTimesScale() {
            #expect(BitmapFont.width(of: "abc", scale: 3) == 72)
            #expect(BitmapFont.width(of: "", scale: 2) == 0)
            #expect(BitmapFont.width(of: "é!", scale: 1) == 16)
            #expect(BitmapFont.glyphHeight == 8)
        }
    }

    struct HeatmapResizeTests {
        private func randomGrid(rows: Int, cols: Int, seed: UInt64) -> [Float] {
            var rng = SplitMix(seed: seed)
            return (0..<rows * cols).map { _ in Float(rng.next() >> 40) / Float(1 << 24) * 10 - 3 }
        }

        @Test func integerFactorsMatchUpsampleBilinearExactly() {
            for (rows, cols, factor) in [(4, 6, 8), (3, 5, 14), (14, 14, 16)] {
                let grid = randomGrid(rows: rows, cols: cols, seed: UInt64(factor))
                let resized = HeatmapResize.bilinear(grid, rows: rows, cols: cols, width: cols * factor, height: rows * factor)
                let reference = Heatmap.upsampleBilinear(grid, rows: rows, cols: cols, factor: factor)
                #expect(resized == reference, "\(rows)x\(cols) ×\(factor)")
            }
        }

        @Test func constantGridStaysConstant() {
            let grid = [Float](repeating: 2.5, count: 3 * 5)
            for (w, h) in [(17, 11), (3, 2), (1, 1), (640, 7)] {
                let out = HeatmapResize.bilinear(grid, rows: 3, cols: 5, width: w, height: h)
                #expect(out.count == w * h)
                #expect(out.allSatisfy { $0 == 2.5 }, "\(w)x\(h)")
            }
        }

        @Test func outputSizeIsWidthTimesHeight() {
            let grid = randomGrid(rows: 2, cols: 3, seed: 9)
            #expect(HeatmapResize.bilinear(grid, rows: 2, cols: 3, width: 7, height: 4).count == 28)
            #expect(HeatmapResize.bilinear(grid, rows: 2, cols: 3, width: 0, height: 4).isEmpty)
            #expect(HeatmapResize.bilinear(grid, rows: 2, cols: 3, width: 1, height: 1).count == 1)
        }

        @Test func twoByTwoToThreeByThreeMatchesHandComputation() {
            // scale 2/3: o=0 → src max(−1/6, 0) = 0; o=1 → 0.5; o=2 → 7/6, i0 = 1 with i1 clamped to 1.
            let out = HeatmapResize.bilinear([0, 1, 2, 3], rows: 2, cols: 2, width: 3, height: 3)
            let expected: [Float] = [0, 0.5, 1,
                                     1, 1.5, 2,
                                     2, 2.5, 3]
            #expect(out.count == 9)
            for (got, want) in zip(out, expected) { #expect(abs(got - want) < 1e-5, "\(out)") }
        }

        @Test func downscaleMatchesHandComputation() {
            // 4 → 3 columns, scale 4/3: src = 1/6, 3/2, 17/6 → 0 + 3/6, 3 + 1.5, 6 + 2.5.
            let out = HeatmapResize.bilinear([0, 3, 6, 9], rows: 1, cols: 4, width: 3, height: 1)
            for (got, want) in zip(out, [Float(0.5), 4.5, 8.5]) { #expect(abs(got - want) < 1e-5, "\(out)") }
        }
    }
}
