/// Resizing a per-patch map to an arbitrary pixel size, for overlays on frames the model saw only as a crop.
public enum HeatmapResize {
    /// PyTorch `F.interpolate(size: (height, width), mode: "bilinear", align_corners: false)` on a rows×cols grid,
    /// row-major in and out: src = max(0, (o + 0.5)·(in/out) − 0.5), i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1).
    ///
    /// The ratio in/out is taken in Double and rounded to Float once. For an integer factor that is exactly
    /// `Float(1.0 / factor)`, the value `Heatmap.upsampleBilinear` uses, so both agree bit for bit; PyTorch itself
    /// divides in Float, which can differ in the last bit of the ratio for a few non-integer sizes.
    /// A zero width or height gives an empty map.
    public static func bilinear(_ grid: [Float], rows: Int, cols: Int, width: Int, height: Int) -> [Float] {
        precondition(rows > 0 && cols > 0, "resize needs a non-empty grid, got \(rows)x\(cols)")
        precondition(grid.count == rows * cols, "grid has \(grid.count) values, expected \(rows)x\(cols)")
        precondition(width >= 0 && height >= 0, "negative output size \(width)x\(height)")
        guard width > 0, height > 0 else { return [] }

        struct Tap { var i0: Int; var step: Int; var lambda: Float }
        func taps(input: Int, output: Int) -> [Tap] {
            let scale = Float(Double(input) / Double(output))
            return (0..<output).map { o in
                let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
                let i0 = min(Int(src), input - 1)
                let step = i0 < input - 1 ? 1 : 0
                let lambda = min(max(src - Float(i0), 0), 1)
                return Tap(i0: i0, step: step, lambda: lambda)
            }
        }
        let columnTaps = taps(input: cols, output: width)
        let rowTaps = taps(input: rows, output: height)
        var out = [Float](repeating: 0, count: width * height)
        grid.withUnsafeBufferPointer { g in
            columnTaps.withUnsafeBufferPointer { ct in
                out.withUnsafeMutableBufferPointer { o in
                    for oy in 0..<height {
                        let ty = rowTaps[oy]
                        let top = ty.i0 * cols, bottom = (ty.i0 + ty.step) * cols
                        let ly = ty.lambda
                        let line = oy * width
                        for ox in 0..<width {
                            let t = ct[ox]
                            let lx = t.lambda
                            // Same grouping as PyTorch's CPU kernel (and Heatmap.upsampleBilinear): x first, then y.
                            let upper = (1 - lx) * g[top + t.i0] + lx * g[top + t.i0 + t.step]
                            let lower = (1 - lx) * g[bottom + t.i0] + lx * g[bottom + t.i0 + t.step]
                            o[line + ox] = (1 - ly) * upper + ly * lower
                        }
                    }
                }
            }
        }
        return out
    }
}
