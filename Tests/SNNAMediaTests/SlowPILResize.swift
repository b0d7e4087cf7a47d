@testable import SNNAMedia

/// An independent, deliberately naive restatement of Pillow's BICUBIC resize (reference §3.2): every output
/// pixel recomputes its own weights and its own horizontal-pass values, so it shares no code or data layout
/// with `PILResize` and a bug in the fast path's bookkeeping cannot hide in both.
enum SlowPILResize {
    static func kernel(_ t: Double) -> Double {
        let x = t < 0 ? -t : t
        if x >= 2 { return 0 }
        if x >= 1 { return -0.5 * (x * x * x - 5 * x * x + 8 * x - 4) }
        return 1.5 * x * x * x - 2.5 * x * x + 1
    }

    /// Fixed-point taps for output sample `o`: (first input index, 22-bit weights).
    static func taps(_ o: Int, inSize: Int, outSize: Int) -> (Int, [Int]) {
        let scale = Double(inSize) / Double(outSize)
        let fs = scale > 1 ? scale : 1
        let center = (Double(o) + 0.5) * scale
        let lo = Swift.max(0, Int((center - 2 * fs + 0.5).rounded(.towardZero)))
        let hi = Swift.min(inSize, Int((center + 2 * fs + 0.5).rounded(.towardZero)))
        // Pillow multiplies by 1/filterscale instead of dividing; copied so weights agree to the last bit.
        let raw = (lo..<hi).map { kernel((Double($0) - center + 0.5) * (1 / fs)) }
        let total = raw.reduce(0, +)
        let fixed = raw.map { w -> Int in
            let v = (total == 0 ? w : w / total) * 4_194_304
            return Int(v.rounded(.toNearestOrAwayFromZero))
        }
        return (lo, fixed)
    }

    static func roundShiftClamp(_ sum: Int) -> UInt8 {
        let v = (sum + 2_097_152) >> 22
        return UInt8(v < 0 ? 0 : (v > 255 ? 255 : v))
    }

    static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        func source(_ x: Int, _ y: Int, _ c: Int) -> Int { Int(image.pixels[(y * image.width + x) * 3 + c]) }
        var out = RGBImage(width: width, height: height)
        for oy in 0..<height {
            let (y0, wy) = height == image.height ? (oy, [4_194_304]) : taps(oy, inSize: image.height, outSize: height)
            for ox in 0..<width {
                let (x0, wx) = width == image.width ? (ox, [4_194_304]) : taps(ox, inSize: image.width, outSize: width)
                for c in 0..<3 {
                    var vertical = 0
                    for (j, ky) in wy.enumerated() {
                        var horizontal = 0
                        for (i, kx) in wx.enumerated() { horizontal += source(x0 + i, y0 + j, c) * kx }
                        // Pillow stores the horizontal pass as uint8 before the vertical pass reads it.
                        vertical += Int(roundShiftClamp(horizontal)) * ky
                    }
                    out.pixels[(oy * width + ox) * 3 + c] = roundShiftClamp(vertical)
                }
            }
        }
        return out
    }
}
