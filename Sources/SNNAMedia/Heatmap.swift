/// Turns a per-patch attribution map into pictures, following the reference visualisation (§3.4).
public enum Heatmap {
    /// PyTorch `F.interpolate(scale_factor: factor, mode: "bilinear", align_corners: false)` on a rows×cols grid;
    /// the result is (rows·factor)×(cols·factor), row-major.
    public static func upsampleBilinear(_ grid: [Float], rows: Int, cols: Int, factor: Int) -> [Float] {
        precondition(rows > 0 && cols > 0 && factor > 0, "upsample needs a non-empty grid and a positive factor")
        precondition(grid.count == rows * cols, "grid has \(grid.count) values, expected \(rows)x\(cols)")
        let outRows = rows * factor, outCols = cols * factor
        // PyTorch turns scale_factor into 1/factor in double, casts to float, then multiplies:
        // src = max(0, scale·(o + 0.5) − 0.5). Mirroring that keeps results bit-identical for factors like 14.
        let scale = Float(1.0 / Double(factor))
        func sourceIndex(_ o: Int, size: Int) -> (i0: Int, step: Int, lambda: Float) {
            let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i0 = Int(src)
            let step = i0 < size - 1 ? 1 : 0
            let lambda = min(max(src - Float(i0), 0), 1)
            return (i0, step, lambda)
        }
        let columnTaps = (0..<outCols).map { sourceIndex($0, size: cols) }
        var out = [Float](repeating: 0, count: outRows * outCols)
        for oy in 0..<outRows {
            let (y0, dy, ly) = sourceIndex(oy, size: rows)
            let top = y0 * cols, bottom = (y0 + dy) * cols
            for ox in 0..<outCols {
                let (x0, dx, lx) = columnTaps[ox]
                // Same grouping as PyTorch's CPU kernel: blend along x within each row, then along y.
                let upper = (1 - lx) * grid[top + x0] + lx * grid[top + x0 + dx]
                let lower = (1 - lx) * grid[bottom + x0] + lx * grid[bottom + x0 + dx]
                out[oy * outCols + ox] = (1 - ly) * upper + ly * lower
            }
        }
        return out
    }

    /// (v − min)/(max − min) over the whole map. The reference divides by zero on a constant map; we return
    /// zeros instead, and treat NaN/±inf (a broken attribution) as the minimum so one bad value cannot blank the map.
    public static func normalizeMinMax(_ values: [Float]) -> [Float] {
        var low = Float.infinity, high = -Float.infinity
        for v in values where v.isFinite {
            low = min(low, v)
            high = max(high, v)
        }
        guard low < high else { return [Float](repeating: 0, count: values.count) }
        let range = high - low
        if range.isFinite {
            return values.map { $0.isFinite ? ($0 - low) / range : 0 }
        }
        // Only reachable with values near ±Float.greatestFiniteMagnitude, where Float subtraction overflows.
        let wide = Double(high) - Double(low)
        return values.map { $0.isFinite ? Float((Double($0) - Double(low)) / wide) : 0 }
    }

    /// JET-coloured heat map of a normalized map: index = truncate(255·m), as `np.uint8(255 * mask)` does.
    public static func colorize(_ normalized: [Float], width: Int, height: Int) -> RGBImage {
        precondition(normalized.count == width * height, "map has \(normalized.count) values, expected \(width)x\(height)")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for (p, m) in normalized.enumerated() {
            let scaled = 255 * m
            let index: UInt8 = scaled.isNaN ? 0 : UInt8(min(max(scaled, 0), 255))
            let color = Colormap.jet(index)
            pixels[p * 3] = color.r
            pixels[p * 3 + 1] = color.g
            pixels[p * 3 + 2] = color.b
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The reference's 1:1 overlay: cam = heat/255 + photo/255, then one min-max over all channels to [0, 1],
    /// then truncation to 8 bits.
    ///
    /// Unlike the authors' figures, both images here are RGB. Their heat map was BGR (OpenCV) and their photo RGB,
    /// and a final channel swap made the JET colours right but left the photo with red and blue swapped.
    /// A constant result (e.g. both inputs flat) gives a black image rather than a division by zero.
    public static func blend(photo: RGBImage, heat: RGBImage) -> RGBImage {
        precondition(photo.width == heat.width && photo.height == heat.height,
                     "blend needs equal sizes, got photo \(photo.width)x\(photo.height), heat \(heat.width)x\(heat.height)")
        let count = photo.pixels.count
        var cam = [Float](repeating: 0, count: count)
        var low = Float.infinity, high = -Float.infinity
        for i in 0..<count {
            let v = Float(heat.pixels[i]) / 255 + Float(photo.pixels[i]) / 255
            cam[i] = v
            low = min(low, v)
            high = max(high, v)
        }
        guard low < high else { return RGBImage(width: photo.width, height: photo.height) }
        let range = high - low
        let pixels = cam.map { v -> UInt8 in
            let scaled = 255 * ((v - low) / range)
            return UInt8(min(max(scaled, 0), 255))
        }
        return RGBImage(width: photo.width, height: photo.height, pixels: pixels)
    }

    /// Full pipeline for one map of rows×cols patches: upsample ×patchSize, min-max, colorize (`bare`), and blend
    /// over `photo` (`overlay`). The photo must be the model input, i.e. exactly (cols·patch)×(rows·patch).
    public static func render(map: [Float], rows: Int, cols: Int, patchSize: Int,
                              photo: RGBImage) -> (overlay: RGBImage, bare: RGBImage) {
        let width = cols * patchSize, height = rows * patchSize
        precondition(photo.width == width && photo.height == height,
                     "photo is \(photo.width)x\(photo.height) but a \(cols)x\(rows) map at patch \(patchSize) covers \(width)x\(height)")
        let upsampled = upsampleBilinear(map, rows: rows, cols: cols, factor: patchSize)
        let bare = colorize(normalizeMinMax(upsampled), width: width, height: height)
        return (blend(photo: photo, heat: bare), bare)
    }
}
