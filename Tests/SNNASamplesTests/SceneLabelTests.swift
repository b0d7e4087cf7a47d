// Label rules, masks and boxes checked against hand-built scenes.
import SNNAMedia
import Testing
@testable import SNNASamples

/// A plain day scene without noise, jitter or clutter.
func plainScene(width: Int = 320, height: Int = 180) -> Scene {
    var s = Scene(width: width, height: height, seed: 11)
    s.noise = 0
    s.clouds = 0
    return s
}

func count(_ mask: [UInt8]) -> Int { mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }

/// Labels as a set of raw names, for readable expectations.
func names(_ a: SceneAnnotation) -> Set<String> {
    Set(SceneLabel.allCases.filter { a[$0] }.map(\.rawValue))
}

@Suite struct SceneLabelTests {
    @Test func emptyRoadIsMoveForwardOnly() {
        let r = SceneRenderer.render(plainScene())
        #expect(names(r.annotation) == ["move_forward"])
        #expect(r.annotation.causes(for: .moveForward).map(\.text) == ["lane clear"])
        let mask = try! #require(r.masks[.moveForward])
        // The free lane covers the bottom centre of the picture, not the sky.
        #expect(mask[(179 * 320) + 160] == 255)
        #expect(mask[(10 * 320) + 160] == 0)
    }

    @Test func brakingCarInOurLaneIsSlowDownWithItsBox() throws {
        var s = plainScene()
        s.vehicles = [Vehicle(lane: .ego, distance: 35, color: SceneColor(40, 70, 150), braking: true)]
        let r = SceneRenderer.render(s)
        #expect(names(r.annotation) == ["slow_down"])
        #expect(r.annotation.causes(for: .slowDown).map(\.text) == ["braking vehicle ahead"])
        let mask = try #require(r.masks[.slowDown])
        let box = try #require(r.regions[.slowDown]?.first)
        // The box is the car's rectangle: centred in the picture, below the horizon line's vicinity.
        let rect = Camera(s).vehicleRect(s.vehicles[0])
        #expect(abs(Double(box.x0) - rect.x0) <= 1 && abs(Double(box.x1) - rect.x1) <= 1)
        #expect(abs(Double(box.y1) - rect.y1) <= 1)
        // Bright brake-light pixels lie inside the mask.
        var inside = 0, outside = 0
        for i in 0..<(s.width * s.height) {
            let p = r.image.pixels
            if p[3 * i] >= 200 && p[3 * i + 1] <= 90 && p[3 * i + 2] <= 90 {
                if mask[i] != 0 { inside += 1 } else { outside += 1 }
            }
        }
        #expect(inside >= 4, "brake lights must be drawn as bright red pixels")
        #expect(outside * 10 <= inside, "bright red pixels outside the slow_down mask: \(outside) vs \(inside) inside")
        // The same car without brakes: no bright red.
        s.vehicles[0].braking = false
        let calm = SceneRenderer.render(s)
        #expect(names(calm.annotation) == ["move_forward"])
        var red = 0
        for i in 0..<(s.width * s.height) where calm.image.pixels[3 * i] >= 200 && calm.image.pixels[3 * i + 1] <= 90 {
            red += 1
        }
        #expect(red == 0)
        // move_forward's free lane stops at the car.
        let free = try #require(calm.regions[.moveForward]?.first)
        #expect(Double(free.y0) >= rect.y1 - 1)
    }

    @Test func adjacentLaneVehiclesAreDistractors() {
        for lane in [Lane.left, .right] {
            var s = plainScene()
            s.vehicles = [Vehicle(lane: lane, distance: 9, braking: true)]
            #expect(names(SceneLabeler.annotate(s)) == ["move_forward"], "\(lane)")
        }
        var s = plainScene()
        s.vehicles = [Vehicle(lane: .ego, distance: 12)]
        let a = SceneLabeler.annotate(s)
        #expect(names(a) == ["slow_down"])
        #expect(a.causes(for: .slowDown).map(\.text) == ["vehicle close ahead"])
        s.vehicles = [Vehicle(lane: .ego, distance: 30)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"], "a far car that does not brake is no reason to slow")
        s.vehicles = [Vehicle(lane: .ego, distance: 75, braking: true)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"], "beyond the braking limit")
        // Lane membership follows the car's centre.
        s.vehicles = [Vehicle(distance: 10, lateral: 1.6)]
        #expect(SceneLabeler.annotate(s)[.slowDown])
        s.vehicles = [Vehicle(distance: 10, lateral: 1.9)]
        #expect(!SceneLabeler.annotate(s)[.slowDown])
    }

    @Test func lightsRedAndAmberSlowGreenDoesNot() throws {
        for (state, expected) in [(TrafficLight.State.red, "red light"), (.amber, "amber light")] {
            for placement in [TrafficLight.Placement.right, .left, .overhead] {
                var s = plainScene()
                s.lights = [TrafficLight(state: state, placement: placement, distance: 30)]
                let r = SceneRenderer.render(s)
                #expect(names(r.annotation) == ["slow_down"], "\(state) \(placement)")
                #expect(r.annotation.causes(for: .slowDown).map(\.text) == [expected])
                // The housing's box holds the lit lamp's bright pixels.
                let box = try #require(r.regions[.slowDown]?.first)
                var lit = 0
                for y in box.y0..<box.y1 {
                    for x in box.x0..<box.x1 {
                        let i = 3 * (y * s.width + x)
                        if r.image.pixels[i] > 200 && r.image.pixels[i + 2] < 120 { lit += 1 }
                    }
                }
                #expect(lit > 0, "no lit lamp inside the light's box for \(state) \(placement)")
            }
        }
        var s = plainScene()
        s.lights = [TrafficLight(state: .green, placement: .right, distance: 30)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"])
        s.lights = [TrafficLight(state: .red, placement: .right, distance: 90)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"], "beyond the light limit")
    }

    @Test func pedestriansOnTheRoadSlowOnTheSidewalkDoNot() throws {
        var s = plainScene()
        s.pedestrians = [Pedestrian(lateral: 0.5, distance: 15, shirt: SceneColor(240, 200, 30))]
        let r = SceneRenderer.render(s)
        #expect(names(r.annotation) == ["slow_down"])
        #expect(r.annotation.causes(for: .slowDown).map(\.text) == ["pedestrian crossing"])
        // The yellow shirt is inside the mask.
        let mask = try #require(r.masks[.slowDown])
        var yellowInside = 0, yellowOutside = 0
        for i in 0..<(s.width * s.height) {
            let p = r.image.pixels
            if p[3 * i] > 200 && p[3 * i + 1] > 160 && p[3 * i + 2] < 80 {
                if mask[i] != 0 { yellowInside += 1 } else { yellowOutside += 1 }
            }
        }
        #expect(yellowInside > 3 && yellowOutside == 0)
        s.pedestrians = [Pedestrian(lateral: s.roadRightEdge + 1.5, distance: 15)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"])
        s.pedestrians = [Pedestrian(lateral: s.roadLeftEdge - 1.0, distance: 15)]
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"])
        // On the road but in the adjacent lane still counts; beyond the distance limit does not.
        s.pedestrians = [Pedestrian(lateral: s.roadLeftEdge + 1, distance: 20)]
        #expect(SceneLabeler.annotate(s)[.slowDown])
        s.pedestrians = [Pedestrian(lateral: 0, distance: 55)]
        #expect(!SceneLabeler.annotate(s)[.slowDown])
    }

    @Test func arrowsGiveTheirDirection() throws {
        let camera = Camera(plainScene())
        for (direction, label) in [(TurnArrow.Direction.left, SceneLabel.turnLeft), (.right, .turnRight)] {
            var s = plainScene()
            s.arrow = TurnArrow(direction: direction, distance: 8)
            let r = SceneRenderer.render(s)
            #expect(names(r.annotation) == ["move_forward", label.rawValue])
            #expect(r.annotation.causes(for: label).map(\.text) == [direction == .left ? "left-turn arrow" : "right-turn arrow"])
            // The arrow's head sticks out on its side of the stem (the lane's centre line).
            let mask = try #require(r.masks[label])
            let centre = Int(camera.x(0, 11).rounded())
            var left = 0, right = 0
            for y in 0..<s.height {
                for x in 0..<s.width where mask[y * s.width + x] != 0 {
                    if x < centre - 2 { left += 1 } else if x > centre + 2 { right += 1 }
                }
            }
            if direction == .left { #expect(left > 2 * right, "left \(left) right \(right)") }
            else { #expect(right > 2 * left, "left \(left) right \(right)") }
            // Painted: the mask holds bright paint pixels.
            var paint = 0
            for i in 0..<(s.width * s.height) where mask[i] != 0 && r.image.pixels[3 * i] > 180 { paint += 1 }
            #expect(paint * 2 > count(mask))
        }
        var s = plainScene()
        s.arrow = TurnArrow(direction: .straight, distance: 8)
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"])
        s.arrow = TurnArrow(direction: .left, distance: 45)
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"], "too far to count")
        // A junction without an arrow is no turn.
        s.arrow = nil
        s.junction = Junction(side: .left, distance: 15)
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward"])
    }

    @Test func curveSignGivesTheTurn() throws {
        for (curve, expected) in [(-0.6, Set(["move_forward", "turn_left"])), (0.6, ["move_forward", "turn_right"]),
                                  (-0.2, ["move_forward"]), (0.25, ["move_forward"]), (0.35, ["move_forward", "turn_right"])] {
            var s = plainScene()
            s.curve = curve
            let r = SceneRenderer.render(s)
            #expect(names(r.annotation) == expected, "curve \(curve)")
            if abs(curve) >= SceneRules.curveThreshold {
                let label: SceneLabel = curve < 0 ? .turnLeft : .turnRight
                let box = try #require(r.regions[label]?.first)
                // The region is the far road, between the horizon and the lower part of the picture.
                let camera = Camera(s)
                #expect(Double(box.y0) >= camera.horizonY - 1)
                #expect(Double(box.y1) <= camera.groundY(SceneRules.curveRegionStart) + 1)
                // The road bends that way: the region's far end lies on that side of the near lane's centre.
                let mask = try #require(r.masks[label])
                let row = Int(camera.groundY(120))
                let xs = (0..<s.width).filter { mask[row * s.width + $0] != 0 }
                let mid = Double(xs.reduce(0, +)) / Double(max(1, xs.count))
                if curve < 0 { #expect(mid < camera.cx - 10) } else { #expect(mid > camera.cx + 10) }
            }
        }
        // An arrow contradicting the bend wins: never both turns.
        var s = plainScene()
        s.curve = 0.6
        s.arrow = TurnArrow(direction: .left, distance: 8)
        #expect(names(SceneLabeler.annotate(s)) == ["move_forward", "turn_left"])
    }

    @Test func masksExactlyForPositiveLabelsAndBoxesMatchMasks() {
        for index in 0..<40 {
            let scene = SceneGenerator.scene(index: index, seed: 5, width: 256, height: 144)
            let r = SceneRenderer.render(scene)
            for label in SceneLabel.allCases {
                if r.annotation[label] {
                    guard let mask = r.masks[label], let boxes = r.regions[label] else {
                        Issue.record("scene \(index): no mask for positive \(label)")
                        continue
                    }
                    #expect(mask.count == 256 * 144)
                    #expect(count(mask) > 0, "scene \(index): empty mask for \(label)")
                    #expect(boxes.count == r.annotation.causes(for: label).count)
                    for b in boxes {
                        #expect(b.area > 0 && b.x0 >= 0 && b.y0 >= 0 && b.x1 <= 256 && b.y1 <= 144, "scene \(index) \(label) \(b)")
                    }
                    // Every mask pixel lies in some cause's box, and the boxes' union hull is the mask's bounds.
                    var mx0 = 256, my0 = 144, mx1 = 0, my1 = 0
                    for y in 0..<144 {
                        for x in 0..<256 where mask[y * 256 + x] != 0 {
                            #expect(boxes.contains { $0.contains(x: x, y: y) })
                            mx0 = min(mx0, x); my0 = min(my0, y); mx1 = max(mx1, x + 1); my1 = max(my1, y + 1)
                        }
                    }
                    #expect(mx0 == boxes.map(\.x0).min() && my0 == boxes.map(\.y0).min())
                    #expect(mx1 == boxes.map(\.x1).max() && my1 == boxes.map(\.y1).max())
                } else {
                    #expect(r.masks[label] == nil && r.regions[label] == nil)
                }
            }
            #expect(r.annotation[.moveForward] != r.annotation[.slowDown])
            #expect(!(r.annotation[.turnLeft] && r.annotation[.turnRight]))
        }
    }
}

@Suite struct OcclusionTests {
    @Test func hiddenCausesDoNotCount() {
        // A van close ahead hides a braking car right behind it in our lane and a light straight behind its box.
        var s = plainScene()
        s.vehicles = [Vehicle(kind: .van, lane: .ego, distance: 9), Vehicle(lane: .ego, distance: 40, braking: true)]
        let a = SceneLabeler.annotate(s)
        #expect(a.causes(for: .slowDown).map(\.text) == ["vehicle close ahead"])
        // The same braking car alone counts.
        s.vehicles = [Vehicle(lane: .ego, distance: 40, braking: true)]
        #expect(SceneLabeler.annotate(s).causes(for: .slowDown).map(\.text) == ["braking vehicle ahead"])
        // An arrow under a close car does not count; in front of it, it does.
        s.vehicles = [Vehicle(kind: .van, lane: .ego, distance: 7)]
        s.arrow = TurnArrow(direction: .left, distance: 10)
        #expect(!SceneLabeler.annotate(s)[.turnLeft])
        s.arrow = TurnArrow(direction: .left, distance: 1)
        #expect(SceneLabeler.annotate(s)[.turnLeft])
    }
}
