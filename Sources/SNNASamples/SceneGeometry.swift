// The camera and the screen geometry of every object: one source for drawing, labels, masks and boxes.

/// A pinhole camera 1.3 m above a flat road, looking along it. Focal length 0.75 · width (about 67° across).
struct Camera: Sendable {
    let width: Double, height: Double
    let focal: Double
    let cx: Double
    let horizonY: Double
    let cameraHeight = 1.3
    let cameraX: Double
    let bend: Double
    /// The road is drawn up to this distance.
    let zFar = 260.0

    init(_ scene: Scene) {
        width = Double(scene.width)
        height = Double(scene.height)
        focal = 0.75 * width
        cx = width / 2 + scene.yaw * width
        horizonY = scene.horizon * height
        cameraX = scene.cameraLateral
        bend = scene.curve * SceneRules.curveScale
    }

    /// Distance of the ground seen at screen row coordinate y (y > horizon).
    func depth(_ y: Double) -> Double { focal * cameraHeight / max(y - horizonY, 1e-6) }
    /// Screen y of the ground at distance z.
    func groundY(_ z: Double) -> Double { horizonY + focal * cameraHeight / z }
    /// Screen y of a point `above` metres over the ground at distance z.
    func y(above: Double, _ z: Double) -> Double { horizonY + focal * (cameraHeight - above) / z }
    /// Lateral displacement of the road's centre at distance z.
    func roadShift(_ z: Double) -> Double { bend * z * z }
    /// Screen x of lateral position X (relative to our lane's centre, following the road) at distance z.
    func x(_ lateral: Double, _ z: Double) -> Double { cx + focal * (lateral - cameraX + roadShift(z)) / z }
    /// Pixels per metre at distance z.
    func scale(_ z: Double) -> Double { focal / z }
    /// The nearest ground distance in the picture (bottom edge).
    var zNear: Double { depth(height) }
}

/// A screen point.
public struct ScreenPoint: Sendable, Equatable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// An integer pixel box: x0, y0 inclusive, x1, y1 exclusive.
public struct PixelBox: Sendable, Equatable, CustomStringConvertible {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var area: Int { max(0, x1 - x0) * max(0, y1 - y0) }
    public var description: String { "[\(x0),\(y0),\(x1),\(y1)]" }
    public func contains(x: Int, y: Int) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
}

/// A region of the picture, in screen coordinates (before the camera roll, which is applied to pixels).
public enum RegionShape: Sendable, Equatable {
    /// An axis-aligned rectangle [x0, x1) × [y0, y1) in float pixels.
    case rect(x0: Double, y0: Double, x1: Double, y1: Double)
    /// A convex polygon.
    case polygon([ScreenPoint])
    /// The ground between two lateral positions (metres, following the road) and two distances.
    case ground(left: Double, right: Double, near: Double, far: Double)

    /// The shape's bounding box clipped to the frame (no roll), in float pixels.
    func bounds(_ camera: Camera) -> (Double, Double, Double, Double) {
        var b: (Double, Double, Double, Double)
        switch self {
        case let .rect(x0, y0, x1, y1):
            b = (x0, y0, x1, y1)
        case let .polygon(points):
            b = (Double.infinity, Double.infinity, -Double.infinity, -Double.infinity)
            for p in points { b = (min(b.0, p.x), min(b.1, p.y), max(b.2, p.x), max(b.3, p.y)) }
        case let .ground(left, right, near, far):
            let zn = max(near, camera.zNear), zf = min(far, camera.zFar)
            guard zf > zn else { return (0, 0, 0, 0) }
            b = (Double.infinity, camera.groundY(zf), -Double.infinity, camera.groundY(zn))
            var z = zn
            while true {
                b.0 = min(b.0, camera.x(left, z))
                b.2 = max(b.2, camera.x(right, z))
                if z >= zf { break }
                z = min(zf, z * 1.1)
            }
        }
        return (max(0, b.0), max(0, b.1), min(camera.width, b.2), min(camera.height, b.3))
    }

    /// Visible area of the clipped bounding box, square pixels.
    func visibleArea(_ camera: Camera) -> Double {
        let b = bounds(camera)
        return max(0, b.2 - b.0) * max(0, b.3 - b.1)
    }
}

/// Screen geometry of scene objects.
extension Camera {
    /// The whole vehicle (body and wheels) as a screen rectangle.
    func vehicleRect(_ v: Vehicle) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        let z = max(v.distance, 0.5)
        let xc = x(v.lateral, z), half = v.width / 2 * scale(z)
        return (xc - half, y(above: v.height, z), xc + half, groundY(z))
    }

    /// Lateral position of a traffic light's pole.
    func lightPoleLateral(_ light: TrafficLight, scene: Scene) -> Double {
        switch light.placement {
        case .left: return scene.roadLeftEdge - 1.0
        case .right, .overhead: return scene.roadRightEdge + 1.0
        }
    }

    /// The light's housing (the box holding the three lamps).
    func lightHousing(_ light: TrafficLight, scene: Scene) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        let z = max(light.distance, 0.5), s = scale(z)
        let lateral = light.placement == .overhead ? 0 : lightPoleLateral(light, scene: scene)
        let bottom = light.placement == .overhead ? 5.0 : 3.0
        let xc = x(lateral, z)
        return (xc - 0.2 * s, y(above: bottom + 1.0, z), xc + 0.2 * s, y(above: bottom, z))
    }

    func pedestrianRect(_ p: Pedestrian) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        let z = max(p.distance, 0.5), s = scale(z)
        let xc = x(p.lateral, z)
        return (xc - 0.32 * s, y(above: p.height, z), xc + 0.32 * s, groundY(z) + 0.03 * s)
    }

    /// The painted arrow as convex screen polygons (stem, bar and head), lateral offset 0 in our lane.
    func arrowPolygons(_ arrow: TurnArrow) -> [[ScreenPoint]] {
        let z0 = arrow.distance
        let d: Double = arrow.direction == .left ? 1 : -1   // (the parts below are written for a left arrow)
        // Local coordinates: u lateral (metres), v along the road from the near end (metres); the arrow is 5 m long.
        var parts: [[(Double, Double)]]
        switch arrow.direction {
        case .straight:
            parts = [[(-0.15, 0), (0.15, 0), (0.15, 3.3), (-0.15, 3.3)],
                     [(-0.5, 3.2), (0.5, 3.2), (0, 5.0)]]
        case .left, .right:
            parts = [[(-0.15 * d, 0), (0.15 * d, 0), (0.15 * d, 3.6), (-0.15 * d, 3.6)],
                     [(0.15 * d, 2.9), (0.15 * d, 3.6), (-0.45 * d, 3.6), (-0.45 * d, 2.9)],
                     [(-0.45 * d, 2.2), (-0.45 * d, 4.3), (-1.05 * d, 3.25)]]
        }
        return parts.map { part in
            part.map { (u, v) in
                let z = max(z0 + v, 0.3)
                return ScreenPoint(x(u, z), groundY(z))
            }
        }
    }
}

/// The labels of a scene, the text cause of each positive label and the regions of the causes.
public struct SceneCause: Sendable, Equatable {
    public var label: SceneLabel
    public var text: String
    public var shapes: [RegionShape]
}

public struct SceneAnnotation: Sendable, Equatable {
    /// One value per label, in `SceneLabel.allCases` order.
    public var labels: [Bool]
    public var causes: [SceneCause]

    public subscript(_ label: SceneLabel) -> Bool { labels[label.index] }
    public func causes(for label: SceneLabel) -> [SceneCause] { causes.filter { $0.label == label } }
    /// 0/1 vector in label order.
    public var vector: [Int] { labels.map { $0 ? 1 : 0 } }
}

/// The label rules (docs/samples.md).
public enum SceneLabeler {
    /// Minimum visible area of a cause's bounding box for it to count: 12 square pixels at 640 wide, scaled with
    /// the picture so that labels do not depend on the resolution.
    static func minimumArea(_ camera: Camera) -> Double { 12 * (camera.width / 640) * (camera.width / 640) }

    public static func annotate(_ scene: Scene) -> SceneAnnotation {
        let camera = Camera(scene)
        var causes: [SceneCause] = []
        // Nearer vehicles hide what is behind them: a cause counts only if enough of its box is in view.
        let vehicleRects = scene.vehicles.map { ($0.distance, camera.vehicleRect($0)) }
        func unoccluded(_ shape: RegionShape, distance: Double) -> Bool {
            let b = shape.bounds(camera)
            let occluders = vehicleRects.filter { $0.0 < distance - 0.5 }.map(\.1)
            guard !occluders.isEmpty, b.2 > b.0, b.3 > b.1 else { return true }
            var seen = 0
            for j in 0..<8 {
                let y = b.1 + (Double(j) + 0.5) / 8 * (b.3 - b.1)
                for i in 0..<8 {
                    let x = b.0 + (Double(i) + 0.5) / 8 * (b.2 - b.0)
                    if !occluders.contains(where: { x >= $0.x0 && x < $0.x1 && y >= $0.y0 && y < $0.y1 }) { seen += 1 }
                }
            }
            return seen >= 26   // at least about 40 % in view
        }
        func visible(_ shape: RegionShape, distance: Double) -> Bool {
            shape.visibleArea(camera) >= minimumArea(camera) && unoccluded(shape, distance: distance)
        }

        // slow_down
        for v in scene.vehicles.sorted(by: { $0.distance < $1.distance }) where v.lane == .ego && v.distance > 1 {
            let r = camera.vehicleRect(v)
            let shape = RegionShape.rect(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1)
            guard visible(shape, distance: v.distance) else { continue }
            if v.distance < SceneRules.closeDistance {
                causes.append(SceneCause(label: .slowDown, text: v.braking ? "braking vehicle close ahead" : "vehicle close ahead",
                                         shapes: [shape]))
            } else if v.braking && v.distance <= SceneRules.brakingDistance {
                causes.append(SceneCause(label: .slowDown, text: "braking vehicle ahead", shapes: [shape]))
            }
        }
        for light in scene.lights where light.state != .green && light.distance > 1
            && light.distance <= SceneRules.lightDistance {
            let r = camera.lightHousing(light, scene: scene)
            let shape = RegionShape.rect(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1)
            guard visible(shape, distance: light.distance) else { continue }
            causes.append(SceneCause(label: .slowDown, text: light.state == .red ? "red light" : "amber light", shapes: [shape]))
        }
        for p in scene.pedestrians where p.distance > 1 && p.distance <= SceneRules.pedestrianDistance
            && p.lateral > scene.roadLeftEdge && p.lateral < scene.roadRightEdge {
            let r = camera.pedestrianRect(p)
            let shape = RegionShape.rect(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1)
            guard visible(shape, distance: p.distance) else { continue }
            causes.append(SceneCause(label: .slowDown, text: "pedestrian crossing", shapes: [shape]))
        }
        let slow = causes.contains { $0.label == .slowDown }

        // move_forward: not slow_down; the region is our lane's free surface ahead.
        if !slow {
            let nearest = scene.vehicles.filter { $0.lane == .ego && $0.distance > 1 }.map(\.distance).min()
            let far = min(SceneRules.freeLaneDistance, nearest ?? .infinity)
            let half = SceneRules.laneWidth / 2
            causes.append(SceneCause(label: .moveForward, text: "lane clear",
                                     shapes: [.ground(left: -half, right: half, near: camera.zNear, far: far)]))
        }

        // turns: an arrow in our lane, or the bend of the road; a contradicting arrow wins over the bend.
        var arrowSide: SceneLabel?
        if let arrow = scene.arrow, arrow.direction != .straight, arrow.distance <= SceneRules.arrowDistance,
           arrow.distance + 5 > camera.zNear {
            let shapes = camera.arrowPolygons(arrow).map { RegionShape.polygon($0) }
            if shapes.contains(where: { visible($0, distance: arrow.distance + 2.5) }) {
                arrowSide = arrow.direction == .left ? .turnLeft : .turnRight
                causes.append(SceneCause(label: arrowSide!, text: arrow.direction == .left ? "left-turn arrow" : "right-turn arrow",
                                         shapes: shapes))
            }
        }
        if abs(scene.curve) >= SceneRules.curveThreshold {
            let side: SceneLabel = scene.curve < 0 ? .turnLeft : .turnRight
            if arrowSide == nil || arrowSide == side {
                let shape = RegionShape.ground(left: scene.roadLeftEdge, right: scene.roadRightEdge,
                                               near: max(SceneRules.curveRegionStart, camera.zNear), far: camera.zFar)
                causes.append(SceneCause(label: side, text: side == .turnLeft ? "road curves left" : "road curves right",
                                         shapes: [shape]))
            }
        }
        let labels = SceneLabel.allCases.map { label in causes.contains { $0.label == label } }
        causes = SceneLabel.allCases.flatMap { label in causes.filter { $0.label == label } }
        return SceneAnnotation(labels: labels, causes: causes)
    }
}
