// Draws a `Scene` into an RGB picture and rasterises the ground-truth masks of its annotation.
import SNNAMedia

/// A rendered scene: the picture, its labels and causes, and per positive label a mask and per cause a box.
public struct RenderedScene: Sendable {
    public var image: RGBImage
    public var annotation: SceneAnnotation
    /// One mask per positive label (width·height bytes, 255 inside the decisive region, 0 outside).
    public var masks: [SceneLabel: [UInt8]]
    /// Per positive label, the bounding box of each cause (same order as `annotation.causes(for:)`).
    public var regions: [SceneLabel: [PixelBox]]

    /// The mask as a gray RGB picture (r = g = b), for PNG output.
    public func maskImage(_ label: SceneLabel) -> RGBImage? {
        guard let mask = masks[label] else { return nil }
        var pixels = [UInt8](repeating: 0, count: mask.count * 3)
        for i in mask.indices where mask[i] != 0 {
            pixels[3 * i] = 255; pixels[3 * i + 1] = 255; pixels[3 * i + 2] = 255
        }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }
}

public enum SceneRenderer {
    /// The picture only.
    public static func image(_ scene: Scene) -> RGBImage {
        var painter = Painter(scene)
        painter.paint()
        return painter.finish()
    }

    /// The picture, the labels, the masks and the boxes.
    public static func render(_ scene: Scene) -> RenderedScene {
        let image = image(scene)
        let annotation = SceneLabeler.annotate(scene)
        let (masks, regions) = rasterize(annotation, scene: scene)
        return RenderedScene(image: image, annotation: annotation, masks: masks, regions: regions)
    }

    /// Masks and boxes of an annotation (the camera roll applied like on the picture).
    public static func rasterize(_ annotation: SceneAnnotation, scene: Scene)
        -> ([SceneLabel: [UInt8]], [SceneLabel: [PixelBox]]) {
        let camera = Camera(scene)
        var masks: [SceneLabel: [UInt8]] = [:]
        var regions: [SceneLabel: [PixelBox]] = [:]
        for label in SceneLabel.allCases where annotation[label] {
            var union = MaskRaster(width: scene.width, height: scene.height)
            var boxes: [PixelBox] = []
            for cause in annotation.causes(for: label) {
                var m = MaskRaster(width: scene.width, height: scene.height)
                for shape in cause.shapes { m.add(shape, camera: camera) }
                m.shear(scene.roll, cx: camera.cx)
                boxes.append(m.bounds ?? PixelBox(x0: 0, y0: 0, x1: 0, y1: 0))
                union.union(m)
            }
            masks[label] = union.data
            regions[label] = boxes
        }
        return (masks, regions)
    }
}

struct Painter {
    let scene: Scene
    let camera: Camera
    let palette: Palette
    var canvas: Canvas

    init(_ scene: Scene) {
        self.scene = scene
        camera = Camera(scene)
        palette = Palette(scene)
        canvas = Canvas(width: scene.width, height: scene.height)
    }

    /// Lit colour at distance z: ambient light, then atmospheric haze.
    func lit(_ c: SceneColor, _ z: Double) -> SceneColor {
        c.scaled(palette.ambient).mixed(palette.haze, hazeAmount(z))
    }

    func hazeAmount(_ z: Double) -> Float { Float(z / (z + 260)) * (scene.dusk ? 0.7 : 0.85) }

    mutating func paint() {
        paintSky()
        paintSilhouette()
        paintGround()
        if let arrow = scene.arrow { paintArrow(arrow) }
        paintObjects()
    }

    // MARK: sky and far background

    mutating func paintSky() {
        let hy = camera.horizonY
        let rows = min(canvas.height, Int((hy + 2).rounded(.up)))
        for y in 0..<rows {
            let t = min(1, max(0, (Double(y) + 0.5) / hy))
            let c: SceneColor
            if scene.dusk {
                c = t < 0.55 ? palette.skyTop.mixed(palette.skyMid, Float(t / 0.55))
                    : palette.skyMid.mixed(palette.skyHorizon, Float((t - 0.55) / 0.45))
            } else {
                c = t < 0.6 ? palette.skyTop.mixed(palette.skyMid, Float(t / 0.6))
                    : palette.skyMid.mixed(palette.skyHorizon, Float((t - 0.6) / 0.4))
            }
            canvas.span(y: y, 0, Double(canvas.width), c)
        }
        var rng = SceneRandom(seed: SceneRandom.hash(scene.seed, 0xC10D))
        let w = camera.width, h = camera.height
        let cloud = scene.dusk ? SceneColor(210, 140, 140) : SceneColor(246, 247, 250)
        for _ in 0..<scene.clouds {
            let cx = rng.uniform(-0.1, 1.1) * w - scene.travelled * 0.02
            let cxw = cx - (cx / (1.3 * w)).rounded(.down) * 1.3 * w - 0.15 * w
            let cy = rng.uniform(0.08, 0.7) * hy
            let size = rng.uniform(0.05, 0.12) * w
            for _ in 0..<5 {
                canvas.soft(cxw + rng.uniform(-1.2, 1.2) * size, cy + rng.uniform(-0.25, 0.25) * size,
                            size * rng.uniform(0.6, 1.1), size * rng.uniform(0.25, 0.4), cloud,
                            alpha: Float(rng.uniform(0.35, 0.6)))
            }
        }
        if !scene.dusk || rng.chance(0.5) {
            // The sun's glow near the horizon at dusk; a faint brightening by day.
            let sx = rng.uniform(0.1, 0.9) * w
            canvas.glow(sx, hy, 0.25 * w, scene.dusk ? SceneColor(90, 50, 10) : SceneColor(25, 25, 20), strength: 1)
        }
        _ = h
    }

    mutating func paintSilhouette() {
        let w = canvas.width, hy = camera.horizonY, h = camera.height
        let seed = SceneRandom.hash(scene.seed, 0x511)
        let color = palette.silhouette.mixed(palette.haze, scene.dusk ? 0.35 : 0.55)
        let pan = camera.cx - camera.width / 2
        for x in 0..<w {
            let u = (Double(x) - pan) / camera.width
            var top: Double
            switch scene.skyline {
            case 1:
                let block = (u * 22).rounded(.down)
                let bh = SceneRandom.unitHash(seed, UInt64(bitPattern: Int64(block)))
                top = 0.012 + 0.07 * bh * bh
            case 2:
                top = 0.01 + 0.06 * valueNoise(u * 3, seed: seed) + 0.01 * valueNoise(u * 17, seed: seed ^ 7)
            default:
                top = 0.01 + 0.025 * valueNoise(u * 9, seed: seed) + 0.015 * valueNoise(u * 41, seed: seed ^ 3)
            }
            let y0 = hy - top * h
            let iy0 = max(0, Int(y0.rounded(.down))), iy1 = min(canvas.height, Int((hy + 1).rounded(.up)))
            guard iy1 > iy0 else { continue }
            for y in iy0..<iy1 {
                let cover = Float(min(1, max(0, Double(y + 1) - y0)))
                let i = (y * w + x) * 3
                canvas.data[i] += (color.r - canvas.data[i]) * cover
                canvas.data[i + 1] += (color.g - canvas.data[i + 1]) * cover
                canvas.data[i + 2] += (color.b - canvas.data[i + 2]) * cover
            }
        }
    }

    // MARK: ground, road and markings

    /// Fraction of the distance range [z0, z1] covered by dashes of length `dash` every `period` metres.
    static func dashCoverage(_ z0: Double, _ z1: Double, phase: Double, dash: Double, period: Double) -> Double {
        func integral(_ z: Double) -> Double {
            let u = z + phase
            let k = (u / period).rounded(.down)
            return k * dash + min(u - k * period, dash)
        }
        guard z1 > z0 else { return 0 }
        return (integral(z1) - integral(z0)) / (z1 - z0)
    }

    mutating func paintGround() {
        let hy = camera.horizonY
        let y0 = max(0, Int(hy.rounded(.down)))
        guard y0 < canvas.height else { return }
        let W = camera.width
        let L = scene.roadLeftEdge, R = scene.roadRightEdge
        let grassSeed = SceneRandom.hash(scene.seed, 0x6A55)
        let junction = scene.junction
        let p = palette
        for y in y0..<canvas.height {
            let top = max(Double(y), hy + 0.02)
            guard Double(y + 1) > top else { continue }
            let rowCover = Float(min(1, Double(y + 1) - top))
            let z = camera.depth((top + Double(y + 1)) / 2)
            let zNear = camera.depth(Double(y + 1)), zFar = min(camera.depth(top), 5000)
            let haze = hazeAmount(z)
            func lit(_ c: SceneColor) -> SceneColor { c.scaled(p.ambient).mixed(p.haze, haze) }
            // Grass with low-frequency patches that scroll with travel.
            let g = valueNoise((z + scene.travelled) * 0.11, seed: grassSeed)
            let grass = p.grass.mixed(p.grassFar, Float(min(1, z / 80))).scaled(Float(0.88 + 0.22 * g))
            canvas.span(y: y, 0, W, lit(grass), alpha: rowCover)
            let roadFade = Float(min(1, max(0, (camera.zFar - z) / 60)))
            guard roadFade > 0 else { continue }
            func sx(_ lateral: Double) -> Double { camera.x(lateral, z) }
            func band(_ a: Double, _ b: Double, _ c: SceneColor, _ alpha: Float = 1) {
                canvas.span(y: y, sx(a), sx(b), lit(c), alpha: alpha * roadFade * rowCover)
            }
            // Junction openings: the fraction of this row's depth range inside the opening.
            var jl: Float = 0, jr: Float = 0
            if let j = junction {
                let overlap = max(0, min(zFar, j.distance + j.width) - max(zNear, j.distance))
                let f = Float(min(1, overlap / max(zFar - zNear, 1e-6)))
                if j.side != .right { jl = f }
                if j.side != .left { jr = f }
            }
            let asphaltNoise = valueNoise((z + scene.travelled) * 0.07, seed: grassSeed ^ 0xA5)
            let asphalt = p.asphalt.scaled(Float(0.93 + 0.12 * asphaltNoise))
            // Sidewalks (or a gravel shoulder), curbs.
            if scene.leftSidewalk {
                band(L - 3.0, L - 0.55, p.sidewalk, 1 - jl)
                band(L - 0.55, L - 0.4, p.curb, 1 - jl)
            } else {
                band(L - 1.1, L - 0.4, p.shoulder, 1 - jl)
            }
            if scene.rightSidewalk {
                band(R + 0.55, R + 3.0, p.sidewalk, 1 - jr)
                band(R + 0.4, R + 0.55, p.curb, 1 - jr)
            } else {
                band(R + 0.4, R + 1.1, p.shoulder, 1 - jr)
            }
            if jl > 0 { canvas.span(y: y, -1, sx(L - 0.4), lit(asphalt), alpha: jl * roadFade * rowCover) }
            if jr > 0 { canvas.span(y: y, sx(R + 0.4), W + 1, lit(asphalt), alpha: jr * roadFade * rowCover) }
            band(L - 0.4, R + 0.4, asphalt)
            // Darker wheel tracks in each lane.
            let track = p.asphalt.scaled(0.8)
            var lane = scene.leftLane ? -1 : 0
            while lane <= (scene.rightLane ? 1 : 0) {
                let c = Double(lane) * SceneRules.laneWidth
                band(c - 1.05, c - 0.6, track, 0.18)
                band(c + 0.6, c + 1.05, track, 0.18)
                lane += 1
            }
            // Edge lines (interrupted at junctions) and dashed lane lines.
            band(L - 0.08, L + 0.08, p.paint, 1 - jl)
            band(R - 0.08, R + 0.08, p.paint, 1 - jr)
            let dashes = Float(Painter.dashCoverage(zNear, zFar, phase: scene.travelled, dash: 3, period: 9))
            if scene.leftLane { band(-1.81, -1.69, p.paint, dashes * 0.95) }
            if scene.rightLane { band(1.69, 1.81, p.paint, dashes * 0.95) }
        }
    }

    mutating func paintArrow(_ arrow: TurnArrow) {
        let z = arrow.distance + 2.5
        for part in camera.arrowPolygons(arrow) {
            canvas.fillPolygon(part, lit(palette.paint, z), alpha: 0.92)
        }
    }

    // MARK: output

    /// Optional blur, the camera roll, the pixel noise, and 8-bit output.
    mutating func finish() -> RGBImage {
        if scene.blur { canvas.blur() }
        canvas.shear(scene.roll, cx: camera.cx)
        let w = canvas.width, h = canvas.height
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let amp = Float(scene.noise)
        let seed = SceneRandom.hash(SceneRandom.hash(scene.seed, 0x401_5E), scene.grain)
        canvas.data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { out in
                for i in 0..<(w * h) {
                    let r = SceneRandom.hash(seed, UInt64(i))
                    // Luminance grain (triangular) plus a little chroma noise.
                    let l = (Float(r & 0xFF) + Float((r >> 8) & 0xFF) - 255) / 255 * amp
                    for ch in 0..<3 {
                        let c = (Float((r >> (16 + 8 * UInt64(ch))) & 0xFF) - 127.5) / 127.5 * amp * 0.35
                        let v = src[3 * i + ch] + l + c
                        out[3 * i + ch] = UInt8(min(255, max(0, v + 0.5)))
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}
