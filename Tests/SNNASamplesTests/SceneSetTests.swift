// Determinism, the distribution of random scenes, the clip script, sizes and the writer.
import Foundation
import SNNAMedia
import Testing
@testable import SNNASamples

@Suite struct SceneSetTests {
    @Test func sameSeedSamePixelsDifferentSeedDifferent() {
        let a = SceneRenderer.render(SceneGenerator.scene(index: 3, seed: 7, width: 320, height: 180))
        let b = SceneRenderer.render(SceneGenerator.scene(index: 3, seed: 7, width: 320, height: 180))
        #expect(a.image == b.image)
        #expect(a.annotation == b.annotation)
        #expect(a.masks == b.masks)
        let c = SceneRenderer.render(SceneGenerator.scene(index: 3, seed: 8, width: 320, height: 180))
        #expect(a.image != c.image)
        let d = SceneRenderer.render(SceneGenerator.scene(index: 4, seed: 7, width: 320, height: 180))
        #expect(a.image != d.image)
        // A fixed fingerprint: the PRNG and the arithmetic are the module's own, so this must hold everywhere.
        var rng = SceneRandom(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)   // SplitMix64's published first output for seed 0
        #expect(SceneGenerator.scene(index: 0, seed: 42) == SceneGenerator.scene(index: 0, seed: 42))
    }

    @Test func randomScenesAreBalancedWithDistractorsAndMargins() {
        let n = 300
        var positives = [Int](repeating: 0, count: 4)
        var distractorScenes = 0, hardNegatives = 0, dusk = 0, nearStraight = 0
        let m = SceneRules.margin
        for i in 0..<n {
            let s = SceneGenerator.scene(index: i, seed: 2024, width: 320, height: 180)
            let a = SceneLabeler.annotate(s)
            for k in 0..<4 where a.labels[k] { positives[k] += 1 }
            #expect(!(a[.turnLeft] && a[.turnRight]), "scene \(i) has both turns")
            #expect(a[.moveForward] != a[.slowDown])
            if s.dusk { dusk += 1 }
            // Margins around the thresholds.
            let c = abs(s.curve)
            #expect(c <= SceneRules.curveThreshold * (1 - m) + 1e-9 || c >= SceneRules.curveThreshold * (1 + m) - 1e-9)
            if c > 0.1 && c < SceneRules.curveThreshold { nearStraight += 1 }
            for v in s.vehicles where v.lane == .ego {
                #expect(abs(v.distance - SceneRules.closeDistance) >= SceneRules.closeDistance * m - 1e-9)
                if v.braking { #expect(v.distance <= SceneRules.brakingDistance * (1 - m) + 1e-9) }
                #expect(abs(v.lateral) <= 0.36)
            }
            for v in s.vehicles where v.lane != .ego { #expect(abs(abs(v.lateral) - SceneRules.laneWidth) <= 0.36) }
            for l in s.lights where l.state != .green { #expect(l.distance <= SceneRules.lightDistance * (1 - m) + 1e-9) }
            if let arrow = s.arrow {
                #expect(arrow.distance <= SceneRules.arrowDistance * (1 - m) + 1e-9)
                // No car in our lane hides the arrow.
                #expect(s.vehicles.allSatisfy { $0.lane != .ego || $0.distance >= arrow.distance + 6.9 }, "scene \(i)")
            }
            for p in s.pedestrians {
                let onRoad = p.lateral > s.roadLeftEdge && p.lateral < s.roadRightEdge
                if onRoad {
                    #expect(p.distance <= SceneRules.pedestrianDistance * (1 - m) + 1e-9)
                    #expect(p.lateral >= s.roadLeftEdge + 0.4 && p.lateral <= s.roadRightEdge - 0.4)
                } else {
                    #expect(p.lateral <= s.roadLeftEdge - 0.85 || p.lateral >= s.roadRightEdge + 0.85)
                }
            }
            // Distractors: things that look like causes but are not.
            let adjacent = s.vehicles.contains { $0.lane != .ego }
            let sidewalk = s.pedestrians.contains { $0.lateral < s.roadLeftEdge || $0.lateral > s.roadRightEdge }
            let green = s.lights.contains { $0.state == .green }
            let junctionOnly = s.junction != nil && (s.arrow == nil || s.arrow?.direction == .straight)
            let farCar = s.vehicles.contains { $0.lane == .ego && !$0.braking && $0.distance > SceneRules.closeDistance }
            if adjacent || sidewalk || green || junctionOnly || farCar { distractorScenes += 1 }
            if !a[.slowDown] && s.vehicles.contains(where: { $0.lane != .ego && ($0.braking || $0.distance < 20) }) {
                hardNegatives += 1
            }
        }
        let share = positives.map { Double($0) / Double(n) }
        #expect((0.30...0.45).contains(share[1]), "slow_down \(share[1])")
        #expect((0.30...0.45).contains(share[2]), "turn_left \(share[2])")
        #expect((0.30...0.45).contains(share[3]), "turn_right \(share[3])")
        #expect(Double(distractorScenes) / Double(n) >= 0.3, "distractors in \(distractorScenes) of \(n)")
        #expect(Double(hardNegatives) / Double(n) >= 0.12, "close or braking adjacent cars without slow_down: \(hardNegatives)")
        #expect(nearStraight >= 30, "near-straight bends: \(nearStraight)")
        #expect((0.15...0.45).contains(Double(dusk) / Double(n)))
    }

    /// Seconds each label holds in a clip, at 10 frames per second, from the script's annotations.
    func labelSeconds(_ script: DriveScript, fps: Int = 10) -> [Double] {
        var on = [Int](repeating: 0, count: 4)
        for f in 0..<script.frameCount(fps: fps) {
            let a = SceneLabeler.annotate(script.scene(at: Double(f) / Double(fps)))
            #expect(!(a[.turnLeft] && a[.turnRight]))
            for k in 0..<4 where a.labels[k] { on[k] += 1 }
        }
        return on.map { Double($0) / Double(fps) }
    }

    @Test func twentySecondClipCoversEveryLabel() {
        for seed: UInt64 in [0, 1, 99] {
            let seconds = labelSeconds(DriveScript(duration: 20, seed: seed, width: 320, height: 180))
            for (label, s) in zip(SceneLabel.allCases, seconds) {
                #expect(s >= 2, "seed \(seed): \(label.rawValue) only \(s) s")
            }
        }
        let short = labelSeconds(DriveScript(duration: 12, seed: 3, width: 320, height: 180))
        for (label, s) in zip(SceneLabel.allCases, short) { #expect(s >= 1, "12 s clip: \(label.rawValue) only \(s) s") }
    }

    @Test func clipEvolvesSmoothly() {
        let script = DriveScript(duration: 20, seed: 4, width: 320, height: 180)
        var previous = script.scene(at: 0)
        for f in 1..<600 {
            let s = script.scene(at: Double(f) / 30)
            #expect(abs(s.curve - previous.curve) < 0.05)
            #expect(s.travelled > previous.travelled && s.travelled - previous.travelled < 0.6)
            #expect(abs(s.roll - previous.roll) < 0.002)
            for placement in [TrafficLight.Placement.left, .right] {
                if let a = s.lights.first(where: { $0.placement == placement }),
                   let b = previous.lights.first(where: { $0.placement == placement }) {
                    #expect(abs(a.distance - b.distance) < 0.6)
                }
            }
            if let a = s.arrow, let b = previous.arrow { #expect(abs(a.distance - b.distance) < 0.6) }
            previous = s
        }
        // Red then green at the light; the car ahead brakes at some point.
        let states = (0..<200).compactMap { script.scene(at: Double($0) / 10).lights.first?.state }
        let firstRed = states.firstIndex(of: .red), lastRed = states.lastIndex(of: .red)
        #expect(firstRed != nil && lastRed != nil && states[(lastRed ?? 0)...].contains(.green))
        #expect((0..<200).contains { script.scene(at: Double($0) / 10).vehicles.contains { $0.braking && $0.lane == .ego } })
    }

    @Test func anySizeRendersWithTheSameLabels() {
        var base = SceneGenerator.scene(index: 6, seed: 1, width: 640, height: 360)
        base.roll = 0
        let reference = SceneLabeler.annotate(base).labels
        for (w, h) in [(160, 90), (200, 200), (333, 181), (1280, 720)] {
            var s = base
            s.width = w
            s.height = h
            let r = SceneRenderer.render(s)
            #expect(r.image.width == w && r.image.height == h && r.image.pixels.count == w * h * 3)
            #expect(r.annotation.labels == reference, "\(w)x\(h)")
            for mask in r.masks.values { #expect(mask.count == w * h && count(mask) > 0) }
        }
    }

    @Test func picturesLookLikeRoads() {
        // Sky at the top (bluish by day), grey road at the bottom centre.
        var s = plainScene(width: 320, height: 180)
        s.noise = 3
        let image = SceneRenderer.image(s)
        func pixel(_ x: Int, _ y: Int) -> (Int, Int, Int) {
            let i = 3 * (y * 320 + x)
            return (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
        }
        let sky = pixel(160, 5), road = pixel(160, 170), grass = pixel(5, 86)
        #expect(sky.2 > sky.0 + 40)
        #expect(abs(road.0 - road.1) < 12 && road.0 > 50 && road.0 < 140)
        #expect(grass.1 > grass.0 && grass.1 > grass.2)
    }

    @Test func writerOutputIsIndependentOfThreads() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("snna-samples-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let one = try SampleWriter.writeStills(count: 5, seed: 3, width: 160, height: 90, folder: root + "/a", threads: 1)
        _ = try SampleWriter.writeStills(count: 5, seed: 3, width: 160, height: 90, folder: root + "/b", threads: 3)
        #expect(one.frames == 5)
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: root + "/a").filter { $0.hasSuffix(".png") || $0.hasSuffix(".json") || $0.hasSuffix(".jsonl") }.sorted()
        #expect(files.contains("labels.json") && files.contains("scenes.jsonl") && files.contains("frames/000004.png"))
        #expect(try fm.subpathsOfDirectory(atPath: root + "/b").filter { $0.hasSuffix(".png") || $0.hasSuffix("json") || $0.hasSuffix("jsonl") }.sorted() == files)
        for f in files {
            #expect(fm.contents(atPath: root + "/a/" + f) == fm.contents(atPath: root + "/b/" + f), "\(f) differs")
        }
        // Masks decode with the frame's size and are binary.
        for f in files where f.hasPrefix("masks/") {
            let m = try ImageDecoder.decode(path: root + "/a/" + f)
            #expect(m.width == 160 && m.height == 90)
            #expect(m.pixels.allSatisfy { $0 == 0 || $0 == 255 })
            #expect(m.pixels.contains(255))
        }
        // Writing into a file fails clearly.
        fm.createFile(atPath: root + "/file", contents: Data("x".utf8))
        #expect(throws: SampleError.self) {
            _ = try SampleWriter.writeStills(count: 1, seed: 0, width: 160, height: 90, folder: root + "/file")
        }
    }
}
