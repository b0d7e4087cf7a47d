// A scripted, continuous drive for clip mode: every label for seconds at a time, with distractors.
//
// The script is written for 20 s ("script time" τ) and stretched to the clip's length. Reference timeline:
//   0–5 s     lane clear (a far car ahead in our lane, a car beside us on the right, a left side road, a pedestrian
//             on the sidewalk)                                                                 → move_forward
//   5–8.7 s   the car ahead brakes while we close in, then changes into the left lane and pulls away → slow_down
//   6.3–9.8 s left bend                                                                         → turn_left
//   9.9–14.4 s a light at a junction turns amber and red (we slow down), a pedestrian crosses, the light turns
//             green                                                                              → slow_down
//   14–20 s   a right-turn arrow passes under the car, then a right bend; a braking car in the right lane and a
//             green light as distractors                                                         → turn_right
public struct DriveScript: Sendable {
    public let duration: Double
    public let seed: UInt64
    public let width: Int
    public let height: Int

    /// Cruising speed and the dip while stopping for the light (m/s).
    static let cruise = 13.0
    static let dip = 9.0
    /// The speed dip as a trapezoid in script time: down from a to b, held to c, back up by d.
    static let dipTimes = (a: 9.6, b: 10.6, c: 13.6, d: 15.0)

    let dusk: Bool
    let palette: [SceneColor]
    let people: [Pedestrian]
    let skyline: Int
    let clouds: Int
    let noise: Double

    public init(duration: Double, seed: UInt64, width: Int = 640, height: Int = 360) {
        self.duration = duration
        self.seed = seed
        self.width = width
        self.height = height
        var rng = SceneRandom(seed: SceneRandom.hash(seed, 0xD21FE))
        dusk = rng.chance(0.3)
        palette = (0..<4).map { _ in rng.pick(SceneGenerator.bodyColors) }
        people = (0..<4).map { _ in SceneGenerator.pedestrian(&rng, lateral: 0, distance: 10) }
        skyline = rng.int(0...2)
        clouds = rng.int(1...4)
        noise = rng.uniform(1.5, 3.5)
    }

    /// Script time of clip time t.
    func tau(_ t: Double) -> Double { t * 20 / duration }
    /// Clip time of script time τ.
    func time(_ tau: Double) -> Double { tau * duration / 20 }

    /// Distance travelled by clip time t (closed form of the speed profile).
    func travelled(_ t: Double) -> Double {
        let (a, b, c, d) = DriveScript.dipTimes
        let u = tau(t)
        var bump: Double
        if u < a {
            bump = 0
        } else if u < b {
            bump = (u - a) * (u - a) / (2 * (b - a))
        } else if u < c {
            bump = (b - a) / 2 + (u - b)
        } else if u < d {
            bump = (b - a) / 2 + (c - b) + (u - c) - (u - c) * (u - c) / (2 * (d - c))
        } else {
            bump = (b - a) / 2 + (c - b) + (d - c) / 2
        }
        return DriveScript.cruise * t - DriveScript.dip * bump * duration / 20
    }

    /// Distance ahead at clip time t of a ground-fixed object that is `z` metres ahead at script time `anchor`.
    func fixed(_ z: Double, at anchor: Double, _ t: Double) -> Double { travelled(time(anchor)) + z - travelled(t) }

    /// 0 before a, 1 after b, smooth in between.
    static func ease(_ u: Double, _ a: Double, _ b: Double) -> Double {
        let x = min(1, max(0, (u - a) / (b - a)))
        return x * x * (3 - 2 * x)
    }

    /// The road bend at script time τ.
    public func curve(atScript u: Double) -> Double {
        let e = DriveScript.ease
        return 0.06 - 0.78 * e(u, 5.8, 7.0) + 0.76 * e(u, 9.2, 10.4) + 0.68 * e(u, 15.6, 16.8)
    }

    /// Number of frames of the clip at `fps`.
    public func frameCount(fps: Int) -> Int { max(1, Int((duration * Double(fps)).rounded())) }

    /// The scene at clip time t.
    public func scene(at t: Double) -> Scene {
        let u = tau(t)
        let e = DriveScript.ease
        var s = Scene(width: width, height: height, seed: SceneRandom.hash(seed, 0x5CE4E))
        s.grain = UInt64(max(0, (t * 1000).rounded()))
        s.dusk = dusk
        s.skyline = skyline
        s.clouds = clouds
        s.noise = noise
        let jitterSeed = SceneRandom.hash(seed, 0x717)
        s.horizon = 0.44 + 0.006 * (valueNoise(t * 2.5, seed: jitterSeed) - 0.5)
        s.roll = 0.012 * (valueNoise(t * 0.8, seed: jitterSeed ^ 1) - 0.5)
        s.yaw = 0.012 * (valueNoise(t * 0.6, seed: jitterSeed ^ 2) - 0.5)
        s.cameraLateral = 0.3 * (valueNoise(t * 0.4, seed: jitterSeed ^ 3) - 0.5)
        s.curve = curve(atScript: u)
        s.travelled = travelled(t)
        let L = s.roadLeftEdge, R = s.roadRightEdge

        // The car ahead: far, approaching, braking, changing into the left lane, pulling away.
        if u < 14 {
            var z: Double
            if u < 3.5 { z = 90 - 35 * u / 3.5 }
            else if u < 7 { z = 55 - 41 * e(u, 3.5, 7) }
            else if u < 8 { z = 14 - (u - 7) }
            else if u < 9.4 { z = 13 + 5 * e(u, 8, 9.4) }
            else { z = 18 + 112 * e(u, 9.4, 14) }
            let lateral = -SceneRules.laneWidth * e(u, 8, 9.4)
            s.vehicles.append(Vehicle(kind: .car, distance: z, lateral: lateral, color: palette[0],
                                      braking: u >= 5 && u < 8.2))
        }
        // A car beside us in the right lane that we overtake.
        if u < 4.6 {
            s.vehicles.append(Vehicle(kind: .van, distance: 16 - 13 * u / 4.6, lateral: SceneRules.laneWidth + 0.1,
                                      color: palette[1]))
        }
        // A braking car in the right lane during the right bend (distractor).
        if u > 14.8 {
            let z = 70 - 56 * e(u, 14.8, 19.0)
            s.vehicles.append(Vehicle(kind: .car, distance: z, lateral: SceneRules.laneWidth - 0.1, color: palette[2],
                                      braking: u > 16.3 && u < 19.6))
        }

        // The light at the junction: green, amber, red, green.
        let lightZ = fixed(22, at: 13.0, t)
        if lightZ > 2, lightZ < 110 {
            let state: TrafficLight.State = u < 9.9 ? .green : (u < 10.4 ? .amber : (u < 13.0 ? .red : .green))
            s.lights.append(TrafficLight(state: state, placement: .right, distance: lightZ))
            if lightZ < 80 { s.junction = Junction(side: .right, distance: lightZ + 3, width: 10) }
        }
        // A side road on the left without any arrow (distractor), earlier.
        let sideZ = fixed(30, at: 2.0, t)
        if sideZ > -15, sideZ < 200, s.junction == nil { s.junction = Junction(side: .left, distance: sideZ, width: 9) }
        // A green light on the left near the end (distractor).
        let green = fixed(30, at: 18.0, t)
        if green > 2, green < 140 { s.lights.append(TrafficLight(state: .green, placement: .left, distance: green)) }

        // The crossing pedestrian: waits on the left sidewalk, crosses, stands on the right.
        let crossZ = fixed(17, at: 13.0, t)
        if crossZ > 1.5, crossZ < 80 {
            let lateral = -7.5 + 15 * min(1, max(0, (u - 11.2) / 3.75))
            var p = people[0]
            p.lateral = lateral
            p.distance = crossZ
            p.stride = (u > 11.2 && u < 14.95) ? (t * 2.2).truncatingRemainder(dividingBy: 1) : 0.5
            s.pedestrians.append(p)
        }
        // Pedestrians on the sidewalks (distractors).
        for (k, (lateral, z, anchor)) in [(L - 1.6, 25.0, 1.5), (R + 1.8, 30.0, 7.5), (R + 1.3, 20.0, 17.0)].enumerated() {
            let d = fixed(z, at: anchor, t)
            if d > 1.5, d < 90 {
                var p = people[k + 1]
                p.lateral = lateral
                p.distance = d
                p.stride = (t * 1.6 + Double(k) * 0.3).truncatingRemainder(dividingBy: 1)
                s.pedestrians.append(p)
            }
        }
        // The right-turn arrow in our lane.
        let arrowZ = fixed(25, at: 14.0, t)
        if arrowZ > -6, arrowZ < 80 { s.arrow = TurnArrow(direction: .right, distance: arrowZ) }

        // Trees, poles and the odd building, fixed along the road.
        let here = s.travelled
        let spacing = 9.0
        let clutterSeed = SceneRandom.hash(seed, 0xC1)
        var k = Int(((here + 2) / spacing).rounded(.down))
        while Double(k) * spacing < here + 160 {
            let kk = UInt64(bitPattern: Int64(k))
            let r = SceneRandom.unitHash(clutterSeed, kk)
            let along = Double(k) * spacing + 6 * SceneRandom.unitHash(clutterSeed ^ 1, kk)
            let z = along - here
            k += 1
            guard z > 2, r < 0.75 else { continue }
            let left = SceneRandom.unitHash(clutterSeed ^ 2, kk) < 0.5
            let kindValue = SceneRandom.unitHash(clutterSeed ^ 3, kk)
            let kind: Clutter.Kind = kindValue < 0.62 ? .tree : (kindValue < 0.85 ? .pole : .building)
            let beyond: Double = kind == .pole ? 3.5 : (kind == .tree ? 4 + 10 * SceneRandom.unitHash(clutterSeed ^ 4, kk)
                                                                        : 12 + 15 * SceneRandom.unitHash(clutterSeed ^ 4, kk))
            let lateral = left ? L - beyond : R + beyond
            s.clutter.append(Clutter(kind: kind, lateral: lateral, distance: z,
                                     size: 0.8 + 0.5 * SceneRandom.unitHash(clutterSeed ^ 5, kk),
                                     tint: SceneRandom.unitHash(clutterSeed ^ 6, kk)))
        }
        return s
    }
}
