// The description of one synthetic dashcam scene: everything the renderer draws and the labeller reads.
// World units are metres: X is lateral (positive to the right, 0 = centre of our lane), z is the distance ahead.

/// The four driving actions, in the order of the label vectors (labels.json) and of the model's head.
public enum SceneLabel: String, CaseIterable, Sendable, Codable, Comparable {
    case moveForward = "move_forward"
    case slowDown = "slow_down"
    case turnLeft = "turn_left"
    case turnRight = "turn_right"

    public var index: Int { SceneLabel.allCases.firstIndex(of: self)! }
    public static func < (a: SceneLabel, b: SceneLabel) -> Bool { a.index < b.index }
}

/// An sRGB colour with components in 0…255.
public struct SceneColor: Sendable, Equatable {
    public var r: Float, g: Float, b: Float
    public init(_ r: Float, _ g: Float, _ b: Float) { self.r = r; self.g = g; self.b = b }

    func scaled(_ k: Float) -> SceneColor { SceneColor(r * k, g * k, b * k) }
    func mixed(_ other: SceneColor, _ t: Float) -> SceneColor {
        SceneColor(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }
}

/// Lanes: -1 = the lane left of ours, 0 = our lane, +1 = the lane on the right.
public enum Lane: Int, Sendable, Equatable {
    case left = -1, ego = 0, right = 1
}

public struct Vehicle: Sendable, Equatable {
    public enum Kind: String, Sendable { case car, van }
    public var kind: Kind
    /// Distance ahead of the camera to the vehicle's rear, metres.
    public var distance: Double
    /// Lateral position of the vehicle's centre relative to the centre of our lane, metres (lane width 3.5 m).
    public var lateral: Double
    public var color: SceneColor
    public var braking: Bool

    public init(kind: Kind = .car, distance: Double, lateral: Double, color: SceneColor = SceneColor(200, 200, 205),
                braking: Bool = false) {
        self.kind = kind
        self.distance = distance
        self.lateral = lateral
        self.color = color
        self.braking = braking
    }

    /// A vehicle centred in a lane.
    public init(kind: Kind = .car, lane: Lane, distance: Double, color: SceneColor = SceneColor(200, 200, 205),
                braking: Bool = false) {
        self.init(kind: kind, distance: distance, lateral: Double(lane.rawValue) * SceneRules.laneWidth, color: color,
                  braking: braking)
    }

    /// The lane the vehicle's centre is in.
    public var lane: Lane {
        if lateral < -SceneRules.laneWidth / 2 { return .left }
        if lateral > SceneRules.laneWidth / 2 { return .right }
        return .ego
    }

    var width: Double { kind == .van ? 2.0 : 1.8 }
    var height: Double { kind == .van ? 2.1 : 1.45 }
}

public struct TrafficLight: Sendable, Equatable {
    public enum State: String, Sendable { case red, amber, green }
    public enum Placement: String, Sendable { case left, right, overhead }
    public var state: State
    public var placement: Placement
    /// Distance ahead, metres.
    public var distance: Double

    public init(state: State, placement: Placement = .right, distance: Double) {
        self.state = state
        self.placement = placement
        self.distance = distance
    }
}

public struct Pedestrian: Sendable, Equatable {
    /// Lateral position of the feet (metres from our lane's centre) and distance ahead.
    public var lateral: Double
    public var distance: Double
    public var height: Double
    public var shirt: SceneColor
    public var trousers: SceneColor
    public var skin: SceneColor
    /// Walking phase in [0, 1): the stride of the legs.
    public var stride: Double

    public init(lateral: Double, distance: Double, height: Double = 1.75, shirt: SceneColor = SceneColor(60, 90, 170),
                trousers: SceneColor = SceneColor(40, 40, 50), skin: SceneColor = SceneColor(215, 170, 140),
                stride: Double = 0.25) {
        self.lateral = lateral
        self.distance = distance
        self.height = height
        self.shirt = shirt
        self.trousers = trousers
        self.skin = skin
        self.stride = stride
    }
}

/// A painted arrow in our lane.
public struct TurnArrow: Sendable, Equatable {
    public enum Direction: String, Sendable { case left, right, straight }
    public var direction: Direction
    /// Distance ahead of the arrow's near end, metres (the arrow is 5 m long).
    public var distance: Double

    public init(direction: Direction, distance: Double) {
        self.direction = direction
        self.distance = distance
    }
}

/// A side road opening at the road's edge.
public struct Junction: Sendable, Equatable {
    public enum Side: String, Sendable { case left, right, both }
    public var side: Side
    /// Distance ahead of the opening's near edge and its width along the road, metres.
    public var distance: Double
    public var width: Double

    public init(side: Side, distance: Double, width: Double = 9) {
        self.side = side
        self.distance = distance
        self.width = width
    }
}

/// Background clutter: trees, poles, buildings. Never a cause of any label.
public struct Clutter: Sendable, Equatable {
    public enum Kind: String, Sendable { case tree, pole, building }
    public var kind: Kind
    public var lateral: Double
    public var distance: Double
    /// Size factor around 1, and a value in [0, 1) for colour details.
    public var size: Double
    public var tint: Double

    public init(kind: Kind, lateral: Double, distance: Double, size: Double = 1, tint: Double = 0.5) {
        self.kind = kind
        self.lateral = lateral
        self.distance = distance
        self.size = size
        self.tint = tint
    }
}

/// One scene. Build by hand (tests) or with `SceneGenerator` / `DriveScript`.
public struct Scene: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Seed of the textures, noise and far background (not of the layout, which these fields describe).
    public var seed: UInt64
    /// Seed of the pixel noise only (a clip changes it every frame while the background stays put).
    public var grain: UInt64 = 0
    public var dusk: Bool = false
    /// Horizon height as a fraction of the picture height (0.40…0.48).
    public var horizon: Double = 0.44
    /// Camera jitter: roll as a vertical shear (pixels per pixel, ±0.03), yaw as a shift of the vanishing point
    /// (fraction of the width) and a lateral offset of the camera in its lane (metres).
    public var roll: Double = 0
    public var yaw: Double = 0
    public var cameraLateral: Double = 0
    /// Road bend: positive curves right, negative left; |curve| ≥ SceneRules.curveThreshold is a turn.
    /// The road's centre is displaced by curve · SceneRules.curveScale · z² metres at distance z.
    public var curve: Double = 0
    public var leftLane: Bool = true
    public var rightLane: Bool = true
    public var leftSidewalk: Bool = true
    public var rightSidewalk: Bool = true
    /// Distance the camera has travelled (scrolls the dashes and textures).
    public var travelled: Double = 0
    public var junction: Junction?
    public var arrow: TurnArrow?
    public var vehicles: [Vehicle] = []
    public var lights: [TrafficLight] = []
    public var pedestrians: [Pedestrian] = []
    public var clutter: [Clutter] = []
    /// Far background: 0 = tree line, 1 = town, 2 = hills.
    public var skyline: Int = 0
    public var clouds: Int = 2
    /// Pixel noise amplitude (0…255 scale) and whether to blur slightly.
    public var noise: Double = 3
    public var blur: Bool = false
    /// Asphalt brightness factor around 1.
    public var asphalt: Double = 1

    public init(width: Int = 640, height: Int = 360, seed: UInt64 = 0) {
        self.width = width
        self.height = height
        self.seed = seed
    }

    public var roadLeftEdge: Double { leftLane ? -1.5 * SceneRules.laneWidth : -0.5 * SceneRules.laneWidth }
    public var roadRightEdge: Double { rightLane ? 1.5 * SceneRules.laneWidth : 0.5 * SceneRules.laneWidth }
}

/// The thresholds of the label rules (docs/samples.md).
public enum SceneRules {
    public static let laneWidth = 3.5
    /// A vehicle in our lane nearer than this is "close ahead".
    public static let closeDistance = 20.0
    /// A braking vehicle in our lane counts up to this distance.
    public static let brakingDistance = 60.0
    /// A red or amber light counts up to this distance.
    public static let lightDistance = 70.0
    /// A pedestrian on the road counts up to this distance.
    public static let pedestrianDistance = 40.0
    /// An arrow counts when its near end is at most this far ahead (and it is visible).
    public static let arrowDistance = 25.0
    /// |curve| at or above this is a turn.
    public static let curveThreshold = 0.3
    /// Metres of lateral displacement per unit curve per z².
    public static let curveScale = 0.0048
    /// The turn region of a curve starts at this distance (where the bend shows).
    public static let curveRegionStart = 18.0
    /// The free-lane region of move_forward reaches at most this far.
    public static let freeLaneDistance = 60.0
    /// Margins the generator keeps around thresholds (relative).
    public static let margin = 0.08
}
