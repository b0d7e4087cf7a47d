import Foundation
import Testing
@testable import SNNAMedia

struct PILResizeTests {
    private static let interior2to1: [Double] = [
        -0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875,
    ]

    private func expectClose(_ actual: [Double], _ expected: [Double], _ label: String) {
        #expect(actual.count == expected.count, "\(label): \(actual.count) taps, expected \(expected.count)")
        for (a, e) in zip(actual, expected) {
            #expect(abs(a - e) < 1e-12, "\(label): weight \(a) expected \(e)")
        }
    }

    @Test func coefficients1280to640MatchReference() {
        let taps = PILResize.coefficients(inSize: 1280, outSize: 640)
        #expect(taps.count == 640)
        for o in 2..<638 {
            #expect(taps[o].start == 2 * o - 3, "output \(o) starts at \(taps[o].start)")
            expectClose(taps[o].weights, Self.interior2to1, "output \(o)")
        }
        #expect(taps[0].start == 0)
        let raw0 = [0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375]
        expectClose(taps[0].weights, raw0.map { $0 / 1.8671875 }, "output 0")
        #expect(taps[1].start == 0)
        let raw1 = [-0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375]
        #expect(abs(raw1.reduce(0, +) - 2.0234375) < 1e-15)
        expectClose(taps[1].weights, raw1.map { $0 / 2.0234375 }, "output 1")
        for o in 0..<2 {
            let mirror = taps[639 - o]
            #expect(mirror.start + mirror.weights.count == 1280, "right border \(639 - o) must end at the last column")
            expectClose(mirror.weights, taps[o].weights.reversed(), "output \(639 - o)")
        }
    }

    @Test func constantImageStaysConstant() {
        let image = RGBImage(width: 37, height: 23, pixels: [UInt8]((0..<(37 * 23)).flatMap { _ in [200, 17, 99] }))
        for (w, h) in [(16, 9), (50, 30), (37, 11), (5, 23), (1, 1)] {
            let out = PILResize.resize(image, width: w, height: h)
            #expect(out.width == w && out.height == h)
            #expect(out.pixels == [UInt8]((0..<(w * h)).flatMap { _ in [200, 17, 99] as [UInt8] }), "\(w)x\(h)")
        }
    }

    @Test(arguments: [(16, 9), (50, 30), (18, 11), (37, 9), (16, 23)])
    func matchesIndependentImplementation(width: Int, height: Int) {
        var rng = SplitMix(seed: 0x5EED_0001)
        let image = RGBImage(width: 37, height: 23, pixels: rng.bytes(37 * 23 * 3))
        let fast = PILResize.resize(image, width: width, height: height)
        let slow = SlowPILResize.resize(image, width: width, height: height)
        #expect(fast.width == width && fast.height == height)
        let differing = zip(fast.pixels, slow.pixels).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) bytes differ at \(width)x\(height)")
    }

    /// Larger, smoother content puts more sums near rounding boundaries than pure noise does.
    @Test(arguments: [(32, 24), (29, 17), (100, 75), (64, 11)])
    func matchesIndependentImplementationOnGradients(width: Int, height: Int) {
        var rng = SplitMix(seed: 0x5EED_0002)
        var pixels = [UInt8]()
        for y in 0..<48 {
            for x in 0..<64 {
                let noise = Int(rng.next() % 9)
                pixels += [UInt8((x * 4 + noise) % 256), UInt8((y * 5 + noise) % 256), UInt8((x * y + noise) % 256)]
            }
        }
        let image = RGBImage(width: 64, height: 48, pixels: pixels)
        let fast = PILResize.resize(image, width: width, height: height)
        let slow = SlowPILResize.resize(image, width: width, height: height)
        let differing = zip(fast.pixels, slow.pixels).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) bytes differ at \(width)x\(height)")
    }

    /// Random bytes are full of sharp edges, so negative lobes push sums outside 0…255: clamping is exercised.
    @Test func extremeEdgesClampLikePillow() {
        var pixels = [UInt8]()
        for y in 0..<20 { for x in 0..<20 { pixels += Array(repeating: (x + y) % 2 == 0 ? 255 : 0, count: 3) } }
        let image = RGBImage(width: 20, height: 20, pixels: pixels)
        for (w, h) in [(7, 13), (33, 29)] {
            #expect(PILResize.resize(image, width: w, height: h) == SlowPILResize.resize(image, width: w, height: h))
        }
    }

    @Test func sameSizeIsIdentity() {
        var rng = SplitMix(seed: 3)
        let image = RGBImage(width: 9, height: 4, pixels: rng.bytes(9 * 4 * 3))
        #expect(PILResize.resize(image, width: 9, height: 4) == image)
    }

    @Test func targetSizeFollowsTorchvision() {
        #expect(PILResize.targetSize(width: 1280, height: 720, shortSide: 360) == (640, 360))
        #expect(PILResize.targetSize(width: 720, height: 1280, shortSide: 360) == (360, 640))
        #expect(PILResize.targetSize(width: 641, height: 360, shortSide: 360) == (641, 360))
        #expect(PILResize.targetSize(width: 360, height: 360, shortSide: 360) == (360, 360))
        // int(360 * 1000 / 700) = int(514.28…) = 514: truncation, not rounding.
        #expect(PILResize.targetSize(width: 1000, height: 700, shortSide: 360) == (514, 360))
        #expect(PILResize.targetSize(width: 500, height: 500, shortSide: 360) == (360, 360))
    }

    @Test(.enabled(if: ExternalTool.python3WithPillow != nil, "python3 with Pillow is not installed"))
    func matchesPillowByteForByte() throws {
        guard let python = ExternalTool.python3WithPillow else { return }
        var rng = SplitMix(seed: 0xB1C0_B1C0)
        let image = RGBImage(width: 37, height: 23, pixels: rng.bytes(37 * 23 * 3))
        for (w, h) in [(16, 9), (50, 30), (20, 23)] {
            let script = """
            import sys
            from PIL import Image
            data = sys.stdin.buffer.read()
            im = Image.frombytes('RGB', (37, 23), data)
            sys.stdout.buffer.write(im.resize((\(w), \(h)), Image.BICUBIC).tobytes())
            """
            let result = try ExternalTool.run(python, ["-c", script], stdin: Data(image.pixels))
            #expect(result.status == 0)
            #expect([UInt8](result.stdout) == PILResize.resize(image, width: w, height: h).pixels, "\(w)x\(h)")
        }
    }
}
