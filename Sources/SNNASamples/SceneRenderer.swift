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

/// Colours of a scene's light.
struct Palette {
    var skyTop: SceneColor
    var skyMid: SceneColor
    var skyHorizon: SceneColor
    var haze: SceneColor
    var ambient: Float
    var grass: SceneColor
    var grassFar: SceneColor
    var sidewalk: SceneColor
    var curb: SceneColor
    var shoulder: SceneColor
    var asphalt: SceneColor
    var paint: SceneColor
    var silhouette: SceneColor
    var lightBoost: Float

    init(_ scene: Scene) {
        var rng = SceneRandom(seed: SceneRandom.hash(scene.seed, 0x9A1E77E))
        func jitter(_ c: SceneColor, _ amount: Float) -> SceneColor {
            SceneColor(c.r + Float(rng.uniform(-1, 1)) * amount, c.g + Float(rng.uniform(-1, 1)) * amount,
                       c.b + Float(rng.uniform(-1, 1)) * amount)
        }
        let a = Float(scene.asphalt)
        if scene.dusk {
            skyTop = jitter(SceneColor(38, 36, 82), 8)
            skyMid = jitter(SceneColor(128, 72, 118), 12)
            skyHorizon = jitter(SceneColor(238, 138, 78), 12)
            haze = SceneColor(118, 84, 98)
            ambient = Float(rng.uniform(0.42, 0.55))
            grass = jitter(SceneColor(70, 98, 52), 8)
            silhouette = SceneColor(40, 30, 52)
            lightBoost = 1.35
        } else {
            skyTop = jitter(SceneColor(66, 122, 204), 12)
            skyMid = jitter(SceneColor(130, 170, 220), 8)
            skyHorizon = jitter(SceneColor(196, 214, 232), 8)
            haze = skyHorizon.mixed(SceneColor(200, 205, 210), 0.5)
            ambient = Float(rng.uniform(0.88, 1.05))
            grass = jitter(SceneColor(84, 124, 58), 12)
            silhouette = SceneColor(70, 96, 84)
            lightBoost = 1
        }
        grassFar = grass.mixed(SceneColor(110, 130, 80), 0.3)
        sidewalk = jitter(SceneColor(168, 165, 158), 8)
        curb = SceneColor(196, 194, 190)
        shoulder = jitter(SceneColor(128, 112, 92), 8)
        asphalt = jitter(SceneColor(92 * a, 93 * a, 98 * a), 4)
        paint = SceneColor(232, 232, 226)
    }
}

/// Smooth 1-D value noise in [0, 1).
@inline(__always)
func valueNoise(_ x: Double, seed: UInt64) -> Double {
    let f = x.rounded(.down), t = x - f
    let i = UInt64(bitPattern: Int64(f))
    let a = SceneRandom.unitHash(seed, i), b = SceneRandom.unitHash(seed, i &+ 1)
    let s = t * t * (3 - 2 * t)
    return a + (b - a) * s
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

    // MARK: objects, far to near

    mutating func paintObjects() {
        enum Item { case clutter(Clutter), light(TrafficLight), vehicle(Vehicle), pedestrian(Pedestrian) }
        var items: [(Double, Int, Item)] = []
        for c in scene.clutter { items.append((c.distance, items.count, .clutter(c))) }
        for l in scene.lights { items.append((l.distance, items.count, .light(l))) }
        for v in scene.vehicles { items.append((v.distance, items.count, .vehicle(v))) }
        for p in scene.pedestrians { items.append((p.distance, items.count, .pedestrian(p))) }
        items.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        for (z, _, item) in items where z > 0.8 {
            switch item {
            case .clutter(let c): paintClutter(c)
            case .light(let l): paintLight(l)
            case .vehicle(let v): paintVehicle(v)
            case .pedestrian(let p): paintPedestrian(p)
            }
        }
    }

    mutating func paintClutter(_ c: Clutter) {
        let z = c.distance, s = camera.scale(z), gy = camera.groundY(z), xc = camera.x(c.lateral, z)
        switch c.kind {
        case .tree:
            let trunk = lit(SceneColor(92, 66, 46), z)
            let th = 2.0 * c.size
            canvas.fillRect(xc - 0.18 * s * c.size, camera.y(above: th + 0.5, z), xc + 0.18 * s * c.size, gy, trunk)
            let greens = [SceneColor(46, 92, 42), SceneColor(62, 104, 48), SceneColor(38, 78, 46), SceneColor(78, 110, 52)]
            let base = greens[Int(c.tint * 4) % 4]
            let r = 1.7 * c.size * s
            let cy = camera.y(above: th + 1.6 * c.size, z)
            canvas.fillCircle(xc, cy, r, lit(base.scaled(0.8), z))
            canvas.fillCircle(xc - 0.6 * r, cy + 0.25 * r, 0.7 * r, lit(base.scaled(0.85), z))
            canvas.fillCircle(xc + 0.55 * r, cy + 0.2 * r, 0.75 * r, lit(base.scaled(0.75), z))
            canvas.fillCircle(xc - 0.25 * r, cy - 0.3 * r, 0.6 * r, lit(base.scaled(1.1), z))
            canvas.soft(xc, gy, 1.6 * r, 0.12 * r, SceneColor(0, 0, 0), alpha: 0.25)
        case .pole:
            let grey = lit(SceneColor(128, 128, 134), z)
            let top = 7.0 * c.size
            canvas.fillRect(xc - 0.08 * s, camera.y(above: top, z), xc + 0.08 * s, gy, grey)
            let towardRoad: Double = c.lateral > 0 ? -1 : 1
            let armEnd = xc + towardRoad * 1.6 * s
            canvas.fillRect(min(xc, armEnd), camera.y(above: top, z), max(xc, armEnd), camera.y(above: top - 0.12, z), grey)
            let head = SceneColor(60, 60, 64).scaled(palette.ambient)
            canvas.fillRect(armEnd - 0.35 * s, camera.y(above: top + 0.05, z), armEnd + 0.35 * s,
                            camera.y(above: top - 0.2, z), head)
            if scene.dusk {
                canvas.glow(armEnd, camera.y(above: top - 0.22, z), 1.2 * s, SceneColor(120, 100, 60), strength: 0.8)
            }
        case .building:
            let colors = [SceneColor(196, 180, 150), SceneColor(160, 150, 140), SceneColor(150, 90, 70),
                          SceneColor(120, 130, 140), SceneColor(210, 200, 185)]
            let wall = lit(colors[Int(c.tint * 5) % 5], z)
            let bw = 12 * c.size, bh = 8 + 10 * c.tint
            let x0 = xc - bw / 2 * s, x1 = xc + bw / 2 * s, y0 = camera.y(above: bh, z)
            canvas.fillRect(x0, y0, x1, gy, wall)
            canvas.fillRect(x0, y0, x1, camera.y(above: bh - 0.4, z), wall.scaled(0.8))
            let win = scene.dusk ? SceneColor(230, 190, 110) : lit(SceneColor(70, 85, 105), z)
            var floorY = 2.0
            var row = 0
            while floorY + 1.4 < bh {
                var wx = -bw / 2 + 1.0
                var col = 0
                while wx + 1.2 < bw / 2 {
                    let on = !scene.dusk || SceneRandom.unitHash(UInt64(c.tint * 1e6), UInt64(row * 64 + col)) < 0.45
                    let wc = on ? win : lit(SceneColor(50, 55, 65), z)
                    canvas.fillRect(xc + wx * s, camera.y(above: floorY + 1.4, z), xc + (wx + 1.2) * s,
                                    camera.y(above: floorY, z), wc)
                    wx += 2.2
                    col += 1
                }
                floorY += 3
                row += 1
            }
        }
    }

    mutating func paintLight(_ light: TrafficLight) {
        let z = light.distance, s = camera.scale(z)
        let housing = camera.lightHousing(light, scene: scene)
        let poleX = camera.x(camera.lightPoleLateral(light, scene: scene), z)
        let pole = lit(SceneColor(72, 74, 78), z)
        if light.placement == .overhead {
            canvas.fillRect(poleX - 0.09 * s, camera.y(above: 6.3, z), poleX + 0.09 * s, camera.groundY(z), pole)
            let hx = (housing.x0 + housing.x1) / 2
            canvas.fillRect(min(hx, poleX), camera.y(above: 6.2, z), max(hx, poleX), camera.y(above: 6.05, z), pole)
            canvas.fillRect(hx - 0.03 * s, camera.y(above: 6.1, z), hx + 0.03 * s, housing.y0, pole)
        } else {
            canvas.fillRect(poleX - 0.07 * s, housing.y1 - 1, poleX + 0.07 * s, camera.groundY(z), pole)
        }
        let dark = SceneColor(26, 27, 30).scaled(max(palette.ambient, 0.8))
        canvas.fillRect(housing.x0 - 0.03 * s, housing.y0 - 0.03 * s, housing.x1 + 0.03 * s, housing.y1 + 0.03 * s,
                        SceneColor(60, 62, 66).scaled(palette.ambient))
        canvas.fillRect(housing.x0, housing.y0, housing.x1, housing.y1, dark)
        let cx = (housing.x0 + housing.x1) / 2
        let states: [(TrafficLight.State, SceneColor, SceneColor)] = [
            (.red, SceneColor(255, 50, 38), SceneColor(70, 22, 22)),
            (.amber, SceneColor(255, 175, 30), SceneColor(70, 52, 18)),
            (.green, SceneColor(70, 255, 130), SceneColor(20, 56, 32)),
        ]
        for (k, (state, on, off)) in states.enumerated() {
            let cy = housing.y0 + (Double(k) + 0.5) / 3 * (housing.y1 - housing.y0)
            let r = 0.12 * s
            if state == light.state {
                canvas.glow(cx, cy, 5.0 * r, on.scaled(0.55 * palette.lightBoost), strength: 1)
                canvas.fillCircle(cx, cy, r, on)
                canvas.fillCircle(cx - 0.25 * r, cy - 0.25 * r, 0.45 * r, SceneColor(255, 250, 230), alpha: 0.6)
            } else {
                canvas.fillCircle(cx, cy, r, off.scaled(max(palette.ambient, 0.8)))
            }
        }
    }

    mutating func paintVehicle(_ v: Vehicle) {
        let z = v.distance, r = camera.vehicleRect(v)
        let x0 = r.x0, x1 = r.x1, y0 = r.y0, bottom = r.y1
        let w = x1 - x0, h = bottom - y0, xc = (x0 + x1) / 2
        let body = lit(v.color, z)
        let glass = lit(SceneColor(42, 50, 64), z)
        let tire = lit(SceneColor(22, 22, 24), z)
        // Shadow under the car.
        canvas.soft(xc, bottom - 0.02 * h, 0.62 * w, 0.09 * h, SceneColor(10, 10, 12), alpha: 0.7)
        canvas.fillRect(x0 + 0.03 * w, bottom - 0.2 * h, x0 + 0.2 * w, bottom, tire)
        canvas.fillRect(x1 - 0.2 * w, bottom - 0.2 * h, x1 - 0.03 * w, bottom, tire)
        let light: (Double, Double, Double, Double)   // left tail light: x0, y0, x1, y1
        var highMount: (Double, Double, Double, Double)
        if v.kind == .van {
            canvas.fillRect(x0, y0, x1, bottom - 0.1 * h, body)
            canvas.fillRect(x0 + 0.1 * w, y0 + 0.08 * h, x1 - 0.1 * w, y0 + 0.36 * h, glass)
            canvas.fillRect(xc - 0.005 * w, y0 + 0.4 * h, xc + 0.005 * w, bottom - 0.2 * h, body.scaled(0.7))
            light = (x0 + 0.025 * w, y0 + 0.46 * h, x0 + 0.12 * w, y0 + 0.72 * h)
            highMount = (xc - 0.1 * w, y0 + 0.02 * h, xc + 0.1 * w, y0 + 0.06 * h)
        } else {
            canvas.fillRect(x0, y0 + 0.42 * h, x1, bottom - 0.1 * h, body)
            canvas.fillPolygon([ScreenPoint(x0 + 0.07 * w, y0 + 0.43 * h), ScreenPoint(x1 - 0.07 * w, y0 + 0.43 * h),
                                ScreenPoint(x1 - 0.17 * w, y0), ScreenPoint(x0 + 0.17 * w, y0)], body.scaled(0.93))
            canvas.fillPolygon([ScreenPoint(x0 + 0.12 * w, y0 + 0.4 * h), ScreenPoint(x1 - 0.12 * w, y0 + 0.4 * h),
                                ScreenPoint(x1 - 0.2 * w, y0 + 0.07 * h), ScreenPoint(x0 + 0.2 * w, y0 + 0.07 * h)], glass)
            canvas.fillPolygon([ScreenPoint(x0 + 0.3 * w, y0 + 0.4 * h), ScreenPoint(x0 + 0.42 * w, y0 + 0.4 * h),
                                ScreenPoint(x0 + 0.52 * w, y0 + 0.07 * h), ScreenPoint(x0 + 0.4 * w, y0 + 0.07 * h)],
                               SceneColor(200, 210, 230), alpha: 0.12)
            canvas.fillRect(x0, y0 + 0.42 * h, x1, y0 + 0.45 * h, body.scaled(0.75))
            light = (x0 + 0.03 * w, y0 + 0.48 * h, x0 + 0.2 * w, y0 + 0.6 * h)
            highMount = (xc - 0.11 * w, y0 + 0.08 * h, xc + 0.11 * w, y0 + 0.12 * h)
        }
        canvas.fillRect(x0 + 0.01 * w, bottom - 0.22 * h, x1 - 0.01 * w, bottom - 0.1 * h, body.scaled(0.55))
        canvas.fillRect(xc - 0.12 * w, bottom - 0.34 * h, xc + 0.12 * w, bottom - 0.24 * h, lit(SceneColor(232, 232, 222), z))
        let lights = [light, (x1 - (light.2 - x0), light.1, x1 - (light.0 - x0), light.3)]
        let boost = palette.lightBoost
        for (lx0, ly0, lx1, ly1) in lights {
            let cx = (lx0 + lx1) / 2, cy = (ly0 + ly1) / 2
            if v.braking {
                canvas.glow(cx, cy, 0.42 * w, SceneColor(255, 40, 25).scaled(0.75 * boost), strength: 1)
                canvas.fillRect(lx0, ly0, lx1, ly1, SceneColor(255, 48, 40))
                canvas.fillRect(lx0 + 0.25 * (lx1 - lx0), ly0 + 0.25 * (ly1 - ly0), lx1 - 0.25 * (lx1 - lx0),
                                ly1 - 0.25 * (ly1 - ly0), SceneColor(255, 170, 150))
            } else if scene.dusk {
                canvas.glow(cx, cy, 0.22 * w, SceneColor(200, 25, 20).scaled(0.5), strength: 1)
                canvas.fillRect(lx0, ly0, lx1, ly1, SceneColor(190, 30, 28))
            } else {
                canvas.fillRect(lx0, ly0, lx1, ly1, lit(SceneColor(150, 28, 30), z))
            }
        }
        if v.braking {
            canvas.fillRect(highMount.0, highMount.1, highMount.2, highMount.3, SceneColor(255, 50, 40))
            canvas.glow((highMount.0 + highMount.2) / 2, (highMount.1 + highMount.3) / 2, 0.15 * w,
                        SceneColor(255, 40, 25).scaled(0.5 * boost), strength: 1)
        }
    }

    mutating func paintPedestrian(_ p: Pedestrian) {
        let z = p.distance, s = camera.scale(z), gy = camera.groundY(z), xc = camera.x(p.lateral, z)
        let H = p.height
        func yAt(_ f: Double) -> Double { gy - f * H * s }
        let a = 4 * abs(p.stride - (p.stride.rounded(.down)) - 0.5) - 1   // triangle wave in [-1, 1]
        let hipY = yAt(0.48), legW = 0.065 * s
        let trousers = lit(p.trousers, z), shirt = lit(p.shirt, z), skin = lit(p.skin, z)
        canvas.soft(xc, gy, 0.35 * s, 0.06 * s, SceneColor(0, 0, 0), alpha: 0.35)
        for side in [-1.0, 1.0] {
            let hipX = xc + side * 0.07 * s, footX = xc + side * 0.07 * s + side * a * 0.2 * s
            canvas.fillPolygon([ScreenPoint(hipX - legW, hipY), ScreenPoint(hipX + legW, hipY),
                                ScreenPoint(footX + legW, gy - 0.04 * s), ScreenPoint(footX - legW, gy - 0.04 * s)],
                               side < 0 ? trousers : trousers.scaled(0.85))
            canvas.fillRect(footX - 1.4 * legW, gy - 0.06 * s, footX + 1.4 * legW, gy, lit(SceneColor(30, 28, 28), z))
        }
        for side in [-1.0, 1.0] {
            let sx = xc + side * 0.21 * s, hx = xc + side * 0.24 * s - side * a * 0.12 * s
            canvas.fillPolygon([ScreenPoint(sx - 0.05 * s, yAt(0.8)), ScreenPoint(sx + 0.05 * s, yAt(0.8)),
                                ScreenPoint(hx + 0.045 * s, yAt(0.47)), ScreenPoint(hx - 0.045 * s, yAt(0.47))],
                               shirt.scaled(0.82))
            canvas.fillCircle(hx, yAt(0.455), 0.045 * s, skin)
        }
        canvas.fillPolygon([ScreenPoint(xc - 0.21 * s, yAt(0.82)), ScreenPoint(xc + 0.21 * s, yAt(0.82)),
                            ScreenPoint(xc + 0.17 * s, yAt(0.47)), ScreenPoint(xc - 0.17 * s, yAt(0.47))], shirt)
        canvas.fillRect(xc - 0.05 * s, yAt(0.86), xc + 0.05 * s, yAt(0.81), skin)
        let hr = 0.065 * H * s, hy = yAt(0.905)
        canvas.fillCircle(xc, hy - 0.2 * hr, hr, lit(SceneColor(45, 32, 25), z))
        canvas.fillCircle(xc, hy + 0.12 * hr, 0.86 * hr, skin)
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
