/// Pillow's `Image.resize(..., Image.BICUBIC)` reproduced bit for bit (reference §3.2), because the model was
/// trained on tensors made by torchvision `Resize(360, interpolation=3)` on PIL images; a different resampler
/// would shift the input distribution slightly.
public enum PILResize {
    /// Pillow's 8-bit path keeps coefficients as 22-bit fixed point.
    private static let precisionBits = 22

    /// One output sample's taps: the first input index and one weight per consecutive input sample.
    struct Taps {
        var start: [Int]
        var count: [Int]
        /// Fixed-point weights, `maxTaps` per output sample (trailing slots zero).
        var weights: [Int32]
        var maxTaps: Int
    }

    /// Pillow's resampling filters used here: BICUBIC (the model's preprocessing) and BILINEAR (what the authors'
    /// token- and attention-mask evaluation scripts resize with, reproduced by `snna eval --protocol reference-quirks`).
    public enum Filter: Sendable {
        case bicubic, bilinear
        var support: Double { self == .bicubic ? 2 : 1 }
    }

    /// Resizes with a Pillow filter (BICUBIC unless told); identical sizes return the image unchanged, as Pillow copies.
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: Filter = .bicubic) -> RGBImage {
        image.checkInvariant()
        precondition(width > 0 && height > 0, "resize target \(width)x\(height) must be positive")
        precondition(image.width > 0 && image.height > 0, "cannot resize an empty image")
        let needHorizontal = width != image.width
        let needVertical = height != image.height
        if !needHorizontal && !needVertical { return image }

        let horizontal = fixedPointTaps(inSize: image.width, outSize: width, filter: filter)
        let vertical = fixedPointTaps(inSize: image.height, outSize: height, filter: filter)

        guard needHorizontal else { return verticalPass(image, taps: vertical, outHeight: height, rowOffset: 0) }

        // Like Pillow, only the source rows the vertical pass reads go through the horizontal pass.
        let firstRow = needVertical ? vertical.start[0] : 0
        let lastRow = needVertical ? vertical.start[height - 1] + vertical.count[height - 1] : image.height
        let intermediate = horizontalPass(image, taps: horizontal, outWidth: width, rows: firstRow..<lastRow)
        guard needVertical else { return intermediate }
        return verticalPass(intermediate, taps: vertical, outHeight: height, rowOffset: firstRow)
    }

    /// Normalized float weights per output sample, before fixed-point conversion (exposed for tests).
    public static func coefficients(inSize: Int, outSize: Int, filter: Filter = .bicubic) -> [(start: Int, weights: [Double])] {
        precondition(inSize > 0 && outSize > 0, "coefficient sizes must be positive")
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = filter.support * filterScale
        // Pillow multiplies by the reciprocal rather than dividing; kept so weights match to the last bit.
        let inverseFilterScale = 1.0 / filterScale
        var result: [(start: Int, weights: [Double])] = []
        result.reserveCapacity(outSize)
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            // Int(_:) truncates toward zero, like Pillow's C casts; both bounds are "rounded" by +0.5 there.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize)
            var weights = [Double]()
            weights.reserveCapacity(max(xmax - xmin, 0))
            var sum = 0.0
            for x in xmin..<max(xmax, xmin) {
                let t = (Double(x) - center + 0.5) * inverseFilterScale
                let w = filter == .bicubic ? bicubic(t) : triangle(t)
                weights.append(w)
                sum += w
            }
            if sum != 0 {
                for i in weights.indices { weights[i] /= sum }
            }
            result.append((start: xmin, weights: weights))
        }
        return result
    }

    /// torchvision `Resize(int)` on a PIL image: the short side becomes `shortSide`, the long side is scaled and
    /// truncated; an image whose short side already matches is left alone.
    public static func targetSize(width: Int, height: Int, shortSide: Int) -> (width: Int, height: Int) {
        if (width <= height && width == shortSide) || (height <= width && height == shortSide) {
            return (width, height)
        }
        // Python's int(size * long / short) is a float division then truncation.
        if width < height {
            return (shortSide, Int(Double(shortSide * height) / Double(width)))
        }
        return (Int(Double(shortSide * width) / Double(height)), shortSide)
    }

    /// Pillow's bicubic kernel uses a = -0.5 (PyTorch's tensor bicubic uses -0.75).
    private static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0 }
        if x < 2.0 { return (((x - 5.0) * x + 8.0) * x - 4.0) * a }
        return 0.0
    }

    /// Pillow's BILINEAR kernel.
    private static func triangle(_ value: Double) -> Double {
        let x = abs(value)
        return x < 1.0 ? 1.0 - x : 0.0
    }

    static func fixedPointTaps(inSize: Int, outSize: Int, filter: Filter = .bicubic) -> Taps {
        let float = coefficients(inSize: inSize, outSize: outSize, filter: filter)
        let maxTaps = float.map(\.weights.count).max() ?? 0
        var taps = Taps(start: float.map(\.start), count: float.map(\.weights.count),
                        weights: [Int32](repeating: 0, count: outSize * maxTaps), maxTaps: maxTaps)
        let one = Double(1 << precisionBits)
        for (o, entry) in float.enumerated() {
            for (i, w) in entry.weights.enumerated() {
                // Round half away from zero, then truncate: Pillow's (int)(w * 2^22 ± 0.5).
                taps.weights[o * maxTaps + i] = Int32(w < 0 ? w * one - 0.5 : w * one + 0.5)
            }
        }
        return taps
    }

    /// Pillow's clip8: arithmetic shift of the rounded accumulator, then saturate.
    @inline(__always)
    private static func clip8(_ accumulator: Int) -> UInt8 {
        let shifted = accumulator >> precisionBits
        return UInt8(clamping: shifted)
    }

    private static func horizontalPass(_ image: RGBImage, taps: Taps, outWidth: Int, rows: Range<Int>) -> RGBImage {
        let inWidth = image.width
        let half = 1 << (precisionBits - 1)
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        out.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                taps.weights.withUnsafeBufferPointer { k in
                    for (outRow, y) in rows.enumerated() {
                        let srcRow = src.baseAddress! + y * inWidth * 3
                        let dstRow = dst.baseAddress! + outRow * outWidth * 3
                        for x in 0..<outWidth {
                            let start = taps.start[x], count = taps.count[x]
                            let kk = k.baseAddress! + x * taps.maxTaps
                            var r = half, g = half, b = half
                            for i in 0..<count {
                                let p = srcRow + (start + i) * 3
                                let w = Int(kk[i])
                                r += Int(p[0]) * w
                                g += Int(p[1]) * w
                                b += Int(p[2]) * w
                            }
                            dstRow[x * 3] = clip8(r)
                            dstRow[x * 3 + 1] = clip8(g)
                            dstRow[x * 3 + 2] = clip8(b)
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: out)
    }

    /// `rowOffset` is the source row that `image`'s row 0 corresponds to (the horizontal pass may skip rows).
    private static func verticalPass(_ image: RGBImage, taps: Taps, outHeight: Int, rowOffset: Int) -> RGBImage {
        let rowBytes = image.width * 3
        let half = 1 << (precisionBits - 1)
        var out = [UInt8](repeating: 0, count: rowBytes * outHeight)
        var accumulator = [Int](repeating: 0, count: rowBytes)
        out.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                accumulator.withUnsafeMutableBufferPointer { acc in
                    for y in 0..<outHeight {
                        let start = taps.start[y] - rowOffset
                        for i in 0..<rowBytes { acc[i] = half }
                        // Row-at-a-time accumulation walks memory contiguously; integer sums are order-free.
                        for t in 0..<taps.count[y] {
                            let w = Int(taps.weights[y * taps.maxTaps + t])
                            let srcRow = src.baseAddress! + (start + t) * rowBytes
                            for i in 0..<rowBytes { acc[i] += Int(srcRow[i]) * w }
                        }
                        let dstRow = dst.baseAddress! + y * rowBytes
                        for i in 0..<rowBytes { dstRow[i] = clip8(acc[i]) }
                    }
                }
            }
        }
        return RGBImage(width: image.width, height: outHeight, pixels: out)
    }
}
