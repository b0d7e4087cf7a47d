// A float RGB canvas with antialiased primitives (analytic coverage for spans, rectangles and circles, 4×4
// supersampling at polygon edges), and a binary mask raster driven by the same shapes.

struct Canvas {
    let width: Int
    let height: Int
    /// RGB interleaved, 0…255 (values may exceed 255 where lights glow; clamped on output).
    var data: [Float]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        data = [Float](repeating: 0, count: width * height * 3)
    }

    @inline(__always)
    private static func overlap(_ a0: Double, _ a1: Double, _ b0: Double, _ b1: Double) -> Double {
        max(0, min(a1, b1) - max(a0, b0))
    }

    /// Fills row y between float x positions with coverage-weighted alpha.
    mutating func span(y: Int, _ x0: Double, _ x1: Double, _ c: SceneColor, alpha: Float = 1) {
        guard y >= 0, y < height, x1 > x0, alpha > 0 else { return }
        let ix0 = max(0, Int(x0.rounded(.down))), ix1 = min(width, Int(x1.rounded(.up)))
        guard ix1 > ix0 else { return }
        let w = width
        data.withUnsafeMutableBufferPointer { p in
            var i = (y * w + ix0) * 3
            for x in ix0..<ix1 {
                var a = alpha
                if x < Int(x0) + 1 || Double(x + 1) > x1 {
                    a *= Float(Canvas.overlap(Double(x), Double(x + 1), x0, x1))
                }
                p[i] += (c.r - p[i]) * a
                p[i + 1] += (c.g - p[i + 1]) * a
                p[i + 2] += (c.b - p[i + 2]) * a
                i += 3
            }
        }
    }

    mutating func fillRect(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ c: SceneColor, alpha: Float = 1) {
        guard x1 > x0, y1 > y0 else { return }
        let iy0 = max(0, Int(y0.rounded(.down))), iy1 = min(height, Int(y1.rounded(.up)))
        guard iy1 > iy0 else { return }
        for y in iy0..<iy1 {
            let cover = Canvas.overlap(Double(y), Double(y + 1), y0, y1)
            span(y: y, x0, x1, c, alpha: alpha * Float(cover))
        }
    }

    /// A convex polygon (either winding).
    mutating func fillPolygon(_ points: [ScreenPoint], _ c: SceneColor, alpha: Float = 1) {
        guard points.count >= 3 else { return }
        var area = 0.0
        for k in points.indices {
            let p = points[k], q = points[(k + 1) % points.count]
            area += p.x * q.y - q.x * p.y
        }
        guard abs(area) > 1e-9 else { return }
        let orient = area > 0 ? 1.0 : -1.0
        // Edge k: signed distance a·x + b·y + d ≥ 0 inside.
        var edges: [(Double, Double, Double)] = []
        edges.reserveCapacity(points.count)
        var bx0 = Double.infinity, by0 = Double.infinity, bx1 = -Double.infinity, by1 = -Double.infinity
        for k in points.indices {
            let p = points[k], q = points[(k + 1) % points.count]
            var a = -(q.y - p.y) * orient, b = (q.x - p.x) * orient
            let n = (a * a + b * b).squareRoot()
            guard n > 1e-12 else { continue }
            a /= n
            b /= n
            edges.append((a, b, -(a * p.x + b * p.y)))
            bx0 = min(bx0, p.x); by0 = min(by0, p.y); bx1 = max(bx1, p.x); by1 = max(by1, p.y)
        }
        let ix0 = max(0, Int(bx0.rounded(.down))), ix1 = min(width, Int(bx1.rounded(.up)))
        let iy0 = max(0, Int(by0.rounded(.down))), iy1 = min(height, Int(by1.rounded(.up)))
        guard ix1 > ix0, iy1 > iy0 else { return }
        let w = width
        data.withUnsafeMutableBufferPointer { buf in
            for y in iy0..<iy1 {
                let yc = Double(y) + 0.5
                for x in ix0..<ix1 {
                    let xc = Double(x) + 0.5
                    var dmin = Double.infinity
                    for e in edges { dmin = min(dmin, e.0 * xc + e.1 * yc + e.2) }
                    var cover: Double
                    if dmin >= 0.71 {
                        cover = 1
                    } else if dmin <= -0.71 {
                        continue
                    } else {
                        var inside = 0
                        for sy in 0..<4 {
                            let py = Double(y) + (Double(sy) + 0.5) / 4
                            for sx in 0..<4 {
                                let px = Double(x) + (Double(sx) + 0.5) / 4
                                var ok = true
                                for e in edges where e.0 * px + e.1 * py + e.2 < 0 { ok = false; break }
                                if ok { inside += 1 }
                            }
                        }
                        cover = Double(inside) / 16
                        if inside == 0 { continue }
                    }
                    let a = alpha * Float(cover)
                    let i = (y * w + x) * 3
                    buf[i] += (c.r - buf[i]) * a
                    buf[i + 1] += (c.g - buf[i + 1]) * a
                    buf[i + 2] += (c.b - buf[i + 2]) * a
                }
            }
        }
    }

    mutating func fillCircle(_ cx: Double, _ cy: Double, _ r: Double, _ c: SceneColor, alpha: Float = 1) {
        guard r > 0 else { return }
        let ix0 = max(0, Int((cx - r - 1).rounded(.down))), ix1 = min(width, Int((cx + r + 1).rounded(.up)))
        let iy0 = max(0, Int((cy - r - 1).rounded(.down))), iy1 = min(height, Int((cy + r + 1).rounded(.up)))
        guard ix1 > ix0, iy1 > iy0 else { return }
        let w = width
        // A circle smaller than a pixel keeps its area as coverage.
        let scale = r < 0.5 ? Float(4 * r * r) : 1
        let rr = max(r, 0.5)
        data.withUnsafeMutableBufferPointer { buf in
            for y in iy0..<iy1 {
                let dy = Double(y) + 0.5 - cy
                for x in ix0..<ix1 {
                    let dx = Double(x) + 0.5 - cx
                    let d = (dx * dx + dy * dy).squareRoot()
                    let cover = min(1, max(0, rr - d + 0.5))
                    guard cover > 0 else { continue }
                    let a = alpha * Float(cover) * scale
                    let i = (y * w + x) * 3
                    buf[i] += (c.r - buf[i]) * a
                    buf[i + 1] += (c.g - buf[i + 1]) * a
                    buf[i + 2] += (c.b - buf[i + 2]) * a
                }
            }
        }
    }

    /// A soft ellipse blended with falloff (1 - d²)²: clouds, shadows.
    mutating func soft(_ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double, _ c: SceneColor, alpha: Float) {
        glowOrSoft(cx, cy, rx, ry, c, alpha, additive: false)
    }

    /// Additive light with falloff (1 - d²/R²)²: lamps and brake lights.
    mutating func glow(_ cx: Double, _ cy: Double, _ radius: Double, _ c: SceneColor, strength: Float) {
        glowOrSoft(cx, cy, radius, radius, c, strength, additive: true)
    }

    private mutating func glowOrSoft(_ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double, _ c: SceneColor,
                                     _ k: Float, additive: Bool) {
        guard rx > 0.3, ry > 0.3, k > 0 else { return }
        let ix0 = max(0, Int((cx - rx).rounded(.down))), ix1 = min(width, Int((cx + rx).rounded(.up)))
        let iy0 = max(0, Int((cy - ry).rounded(.down))), iy1 = min(height, Int((cy + ry).rounded(.up)))
        guard ix1 > ix0, iy1 > iy0 else { return }
        let w = width
        data.withUnsafeMutableBufferPointer { buf in
            for y in iy0..<iy1 {
                let dy = (Double(y) + 0.5 - cy) / ry
                for x in ix0..<ix1 {
                    let dx = (Double(x) + 0.5 - cx) / rx
                    let d2 = dx * dx + dy * dy
                    guard d2 < 1 else { continue }
                    let f = Float((1 - d2) * (1 - d2)) * k
                    let i = (y * w + x) * 3
                    if additive {
                        buf[i] += c.r * f
                        buf[i + 1] += c.g * f
                        buf[i + 2] += c.b * f
                    } else {
                        buf[i] += (c.r - buf[i]) * f
                        buf[i + 1] += (c.g - buf[i + 1]) * f
                        buf[i + 2] += (c.b - buf[i + 2]) * f
                    }
                }
            }
        }
    }

    /// A separable [1 2 1]/4 blur.
    mutating func blur() {
        let w = width, h = height
        var tmp = data
        data.withUnsafeMutableBufferPointer { out in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    for x in 0..<w {
                        let l = max(0, x - 1), r = min(w - 1, x + 1)
                        for ch in 0..<3 {
                            t[(y * w + x) * 3 + ch] = 0.25 * out[(y * w + l) * 3 + ch] + 0.5 * out[(y * w + x) * 3 + ch]
                                + 0.25 * out[(y * w + r) * 3 + ch]
                        }
                    }
                }
                for y in 0..<h {
                    let u = max(0, y - 1), d = min(h - 1, y + 1)
                    for i in 0..<(w * 3) {
                        out[y * w * 3 + i] = 0.25 * t[u * w * 3 + i] + 0.5 * t[y * w * 3 + i] + 0.25 * t[d * w * 3 + i]
                    }
                }
            }
        }
    }

    /// Camera roll as a vertical shear about column cx: out(x, y) = in(x, y + s·(x − cx)), linear in y.
    mutating func shear(_ s: Double, cx: Double) {
        guard s != 0 else { return }
        let w = width, h = height
        let source = data
        source.withUnsafeBufferPointer { src in
            data.withUnsafeMutableBufferPointer { out in
                for x in 0..<w {
                    let off = s * (Double(x) + 0.5 - cx)
                    let base = off.rounded(.down), frac = Float(off - base), ib = Int(base)
                    for y in 0..<h {
                        let y0 = min(h - 1, max(0, y + ib)), y1 = min(h - 1, max(0, y + ib + 1))
                        let i = (y * w + x) * 3, a = (y0 * w + x) * 3, b = (y1 * w + x) * 3
                        out[i] = src[a] + (src[b] - src[a]) * frac
                        out[i + 1] = src[a + 1] + (src[b + 1] - src[a + 1]) * frac
                        out[i + 2] = src[a + 2] + (src[b + 2] - src[a + 2]) * frac
                    }
                }
            }
        }
    }
}

/// A binary raster (0 or 255) of region shapes.
struct MaskRaster {
    let width: Int
    let height: Int
    var data: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        data = [UInt8](repeating: 0, count: width * height)
    }

    /// Sets the pixels whose centres lie inside the shape.
    mutating func add(_ shape: RegionShape, camera: Camera) {
        let w = width, h = height
        switch shape {
        case let .rect(x0, y0, x1, y1):
            let ix0 = max(0, Int((x0 - 0.5).rounded(.up))), ix1 = min(w, Int((x1 - 0.5).rounded(.up)))
            let iy0 = max(0, Int((y0 - 0.5).rounded(.up))), iy1 = min(h, Int((y1 - 0.5).rounded(.up)))
            guard ix1 > ix0, iy1 > iy0 else { return }
            for y in iy0..<iy1 { for x in ix0..<ix1 { data[y * w + x] = 255 } }
        case let .polygon(points):
            guard points.count >= 3 else { return }
            var area = 0.0
            for k in points.indices {
                let p = points[k], q = points[(k + 1) % points.count]
                area += p.x * q.y - q.x * p.y
            }
            let orient = area >= 0 ? 1.0 : -1.0
            var bx0 = Double.infinity, by0 = Double.infinity, bx1 = -Double.infinity, by1 = -Double.infinity
            for p in points { bx0 = min(bx0, p.x); by0 = min(by0, p.y); bx1 = max(bx1, p.x); by1 = max(by1, p.y) }
            let ix0 = max(0, Int(bx0.rounded(.down))), ix1 = min(w, Int(bx1.rounded(.up)))
            let iy0 = max(0, Int(by0.rounded(.down))), iy1 = min(h, Int(by1.rounded(.up)))
            guard ix1 > ix0, iy1 > iy0 else { return }
            for y in iy0..<iy1 {
                let yc = Double(y) + 0.5
                for x in ix0..<ix1 {
                    let xc = Double(x) + 0.5
                    var inside = true
                    for k in points.indices {
                        let p = points[k], q = points[(k + 1) % points.count]
                        if ((q.x - p.x) * (yc - p.y) - (q.y - p.y) * (xc - p.x)) * orient < 0 { inside = false; break }
                    }
                    if inside { data[y * w + x] = 255 }
                }
            }
        case let .ground(left, right, near, far):
            let y0 = max(0, Int(camera.groundY(min(far, camera.zFar)).rounded(.down)))
            guard y0 < h else { return }
            for y in y0..<h {
                let yc = Double(y) + 0.5
                guard yc > camera.horizonY else { continue }
                let z = camera.depth(yc)
                guard z >= near, z <= far else { continue }
                let xa = camera.x(left, z), xb = camera.x(right, z)
                let ix0 = max(0, Int((xa - 0.5).rounded(.up))), ix1 = min(w, Int((xb - 0.5).rounded(.up)))
                guard ix1 > ix0 else { continue }
                for x in ix0..<ix1 { data[y * w + x] = 255 }
            }
        }
    }

    /// The same roll as `Canvas.shear`, nearest row.
    mutating func shear(_ s: Double, cx: Double) {
        guard s != 0 else { return }
        let w = width, h = height
        let source = data
        for x in 0..<w {
            let off = Int((s * (Double(x) + 0.5 - cx)).rounded())
            for y in 0..<h {
                data[y * w + x] = source[min(h - 1, max(0, y + off)) * w + x]
            }
        }
    }

    /// The bounding box of the set pixels, or nil when empty.
    var bounds: PixelBox? {
        var x0 = width, y0 = height, x1 = -1, y1 = -1
        for y in 0..<height {
            for x in 0..<width where data[y * width + x] != 0 {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : PixelBox(x0: x0, y0: y0, x1: x1 + 1, y1: y1 + 1)
    }

    mutating func union(_ other: MaskRaster) {
        for i in data.indices where other.data[i] != 0 { data[i] = 255 }
    }
}
