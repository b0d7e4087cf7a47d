// Random scenes with the distribution of docs/samples.md: balanced labels, common distractors, continuous
// distances and curvatures with a margin around every threshold.

public enum SceneGenerator {
    static let bodyColors = [
        SceneColor(236, 236, 234), SceneColor(182, 184, 190), SceneColor(36, 36, 40), SceneColor(86, 88, 94),
        SceneColor(168, 32, 30), SceneColor(42, 72, 152), SceneColor(40, 82, 62), SceneColor(222, 190, 64),
        SceneColor(192, 172, 134), SceneColor(122, 162, 204), SceneColor(110, 40, 70), SceneColor(210, 110, 40),
    ]
    static let shirts = [
        SceneColor(200, 40, 40), SceneColor(40, 90, 180), SceneColor(240, 240, 236), SceneColor(30, 30, 34),
        SceneColor(230, 190, 40), SceneColor(60, 140, 70), SceneColor(150, 80, 160), SceneColor(240, 120, 40),
        SceneColor(120, 120, 124), SceneColor(90, 60, 40),
    ]
    static let trousers = [SceneColor(40, 50, 90), SceneColor(30, 30, 34), SceneColor(150, 130, 96),
                           SceneColor(90, 90, 96), SceneColor(60, 70, 120)]
    static let skins = [SceneColor(240, 202, 172), SceneColor(214, 168, 136), SceneColor(170, 120, 88),
                        SceneColor(110, 76, 54)]

    static func pedestrian(_ rng: inout SceneRandom, lateral: Double, distance: Double) -> Pedestrian {
        Pedestrian(lateral: lateral, distance: distance,
                   height: rng.chance(0.1) ? rng.uniform(1.15, 1.4) : rng.uniform(1.58, 1.92),
                   shirt: rng.pick(shirts), trousers: rng.pick(trousers), skin: rng.pick(skins), stride: rng.unit())
    }

    static func vehicle(_ rng: inout SceneRandom, lateral: Double, distance: Double, braking: Bool) -> Vehicle {
        Vehicle(kind: rng.chance(0.25) ? .van : .car, distance: distance, lateral: lateral, color: rng.pick(bodyColors),
                braking: braking)
    }

    /// Whether a point (lateral, height above ground) at distance z is well inside the picture horizontally.
    static func onScreen(_ camera: Camera, lateral: Double, z: Double, margin: Double = 0.04) -> Bool {
        let x = camera.x(lateral, z)
        return x > margin * camera.width && x < (1 - margin) * camera.width
    }

    /// Scene `index` of the set with `seed`.
    public static func scene(index: Int, seed: UInt64, width: Int = 640, height: Int = 360) -> Scene {
        var rng = SceneRandom(seed: SceneRandom.hash(seed, UInt64(index)))
        var s = Scene(width: width, height: height, seed: SceneRandom.hash(seed ^ 0x5EED_5EED, UInt64(index)))
        s.dusk = rng.chance(0.3)
        s.horizon = rng.uniform(0.40, 0.48)
        s.roll = rng.uniform(-0.022, 0.022)
        s.yaw = rng.uniform(-0.03, 0.03)
        s.cameraLateral = rng.uniform(-0.3, 0.3)
        s.leftLane = rng.chance(0.7)
        s.rightLane = rng.chance(0.7)
        if !s.leftLane && !s.rightLane && rng.chance(0.75) {
            if rng.chance(0.5) { s.leftLane = true } else { s.rightLane = true }
        }
        s.leftSidewalk = rng.chance(0.75)
        s.rightSidewalk = rng.chance(0.75)
        s.travelled = rng.uniform(0, 1000)
        s.skyline = rng.int(0...2)
        s.clouds = rng.int(0...4)
        s.noise = rng.uniform(1.5, 5)
        s.blur = rng.chance(0.35)
        s.asphalt = rng.uniform(0.85, 1.15)
        let m = SceneRules.margin, thr = SceneRules.curveThreshold
        func straightish() -> Double { rng.sign() * thr * (1 - m) * rng.unit().squareRoot() }

        // Turns: 37.5 % left, 37.5 % right (by a bend, or by an arrow on a near-straight road), 25 % none.
        let t = rng.unit()
        let turn: Double = t < 0.375 ? -1 : (t < 0.75 ? 1 : 0)
        if turn != 0 {
            if rng.chance(0.72) {
                s.curve = turn * rng.uniform(thr * (1 + m), 1.0)
            } else {
                s.curve = straightish()
                let arrow = TurnArrow(direction: turn < 0 ? .left : .right, distance: rng.uniform(3, SceneRules.arrowDistance * (1 - m)))
                s.arrow = arrow
                if rng.chance(0.6) {
                    s.junction = Junction(side: turn < 0 ? .left : .right, distance: arrow.distance + rng.uniform(6, 14),
                                          width: rng.uniform(8, 12))
                }
            }
        } else {
            s.curve = straightish()
            if rng.chance(0.4) {
                s.junction = Junction(side: rng.pick([.left, .right, .both]), distance: rng.uniform(8, 45),
                                      width: rng.uniform(8, 12))
            }
            if rng.chance(0.18) {
                s.arrow = TurnArrow(direction: .straight, distance: rng.uniform(3, SceneRules.arrowDistance * (1 - m)))
            }
        }
        let camera = Camera(s)
        let L = s.roadLeftEdge, R = s.roadRightEdge
        var egoDistances: [Double] = []
        /// The nearest distance for a car in our lane that leaves the arrow visible (the arrow moves nearer if needed).
        func clearOfArrow(_ z: Double) -> Double {
            guard var arrow = s.arrow else { return z }
            if arrow.distance + 7 > SceneRules.closeDistance * (1 - m) && z < SceneRules.closeDistance {
                arrow.distance = rng.uniform(3, 5)
                s.arrow = arrow
            }
            return max(z, arrow.distance + 7)
        }
        func egoFree(_ z: Double) -> Bool { egoDistances.allSatisfy { abs($0 - z) > 9 } }
        func addLight(_ state: TrafficLight.State, zMax: Double) {
            let placement: TrafficLight.Placement = rng.pick([.right, .right, .right, .left, .overhead])
            for _ in 0..<30 {
                let light = TrafficLight(state: state, placement: placement, distance: rng.uniform(12, zMax))
                let h = camera.lightHousing(light, scene: s)
                if h.x0 > 2, h.x1 < camera.width - 2, h.y0 > 2 { s.lights.append(light); return }
            }
        }

        // slow_down: about 38 % of the scenes (41 % drawn, some causes do not fit), one main cause (sometimes two).
        if rng.chance(0.41) {
            var kinds = [rng.unit()]
            if rng.chance(0.15) { kinds.append(rng.unit()) }
            for k in kinds {
                if k < 0.3 {
                    let z = rng.uniform(clearOfArrow(5.5), SceneRules.closeDistance * (1 - m))
                    if egoFree(z) {
                        egoDistances.append(z)
                        s.vehicles.append(vehicle(&rng, lateral: rng.uniform(-0.35, 0.35), distance: z, braking: rng.chance(0.3)))
                    }
                } else if k < 0.6 {
                    // Braking ahead at any distance up to the limit; far ones (hard examples) are over-sampled.
                    let z = rng.uniform(clearOfArrow(SceneRules.closeDistance * (1 + m)), SceneRules.brakingDistance * (1 - m))
                    if egoFree(z) {
                        egoDistances.append(z)
                        s.vehicles.append(vehicle(&rng, lateral: rng.uniform(-0.35, 0.35), distance: z, braking: true))
                    }
                } else if k < 0.82 {
                    if s.lights.isEmpty { addLight(rng.chance(0.75) ? .red : .amber, zMax: SceneRules.lightDistance * (1 - m)) }
                } else {
                    for _ in 0..<30 {
                        let z = rng.uniform(6, SceneRules.pedestrianDistance * (1 - m))
                        let lateral = rng.uniform(L + 0.45, R - 0.45)
                        if onScreen(camera, lateral: lateral, z: z) {
                            s.pedestrians.append(pedestrian(&rng, lateral: lateral, distance: z))
                            break
                        }
                    }
                }
            }
        } else if rng.chance(0.32) {
            // A far, non-braking car in our lane.
            let z = rng.uniform(clearOfArrow(SceneRules.closeDistance * (1 + m)), 90)
            egoDistances.append(z)
            s.vehicles.append(vehicle(&rng, lateral: rng.uniform(-0.35, 0.35), distance: z, braking: false))
        }

        // Distractors: vehicles in the adjacent lanes (often close, often braking), pedestrians on the sidewalk,
        // green lights.
        for (exists, centre) in [(s.leftLane, -SceneRules.laneWidth), (s.rightLane, SceneRules.laneWidth)]
            where exists && s.vehicles.count < 3 && rng.chance(0.5) {
            for _ in 0..<30 {
                let z = 5 + 65 * rng.unit() * rng.unit().squareRoot()
                let lateral = centre + rng.uniform(-0.35, 0.35)
                if onScreen(camera, lateral: lateral, z: z, margin: 0.1) {
                    s.vehicles.append(vehicle(&rng, lateral: lateral, distance: z, braking: rng.chance(0.45)))
                    break
                }
            }
        }
        if rng.chance(0.42) {
            for _ in 0..<(rng.chance(0.3) ? 2 : 1) {
                let left = rng.chance(0.5)
                let sidewalk = left ? s.leftSidewalk : s.rightSidewalk
                for _ in 0..<30 {
                    let beyond = sidewalk ? rng.uniform(0.9, 2.7) : rng.uniform(0.9, 1.8)
                    let lateral = left ? L - beyond : R + beyond
                    let z = rng.uniform(5, 45)
                    if let j = s.junction, z > j.distance - 1, z < j.distance + j.width + 1 { continue }
                    if onScreen(camera, lateral: lateral, z: z, margin: 0.05) {
                        s.pedestrians.append(pedestrian(&rng, lateral: lateral, distance: z))
                        break
                    }
                }
            }
        }
        if s.lights.isEmpty && rng.chance(0.3) { addLight(.green, zMax: 65) }

        // Background clutter beyond the sidewalks.
        let clutterCount = rng.int(3...12)
        for _ in 0..<clutterCount {
            let r = rng.unit()
            let kind: Clutter.Kind = r < 0.6 ? .tree : (r < 0.8 ? .pole : .building)
            let left = rng.chance(0.5)
            let edge = left ? -L : R
            let beyond: Double
            switch kind {
            case .tree: beyond = rng.uniform(4, 16)
            case .pole: beyond = rng.uniform(3.3, 4)
            case .building: beyond = rng.uniform(10, 30)
            }
            let z = kind == .building ? rng.uniform(30, 160) : rng.uniform(8, 150)
            s.clutter.append(Clutter(kind: kind, lateral: left ? -(edge + beyond) : edge + beyond, distance: z,
                                     size: rng.uniform(0.8, 1.3), tint: rng.unit()))
        }
        return s
    }
}
