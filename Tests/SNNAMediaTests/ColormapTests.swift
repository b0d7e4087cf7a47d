import Testing
@testable import SNNAMedia

struct ColormapTests {
    /// Spot values worked out by hand from the B/G/R table in reference §3.4.
    @Test(arguments: [
        (UInt8(0), UInt8(0), UInt8(0), UInt8(128)),
        (31, 0, 0, 252),
        (32, 0, 0, 255),
        (33, 0, 4, 255),
        (95, 0, 252, 255),
        (96, 2, 255, 254),
        (158, 250, 255, 6),
        (159, 254, 255, 1),
        (160, 255, 252, 0),
        (223, 255, 0, 0),
        (224, 252, 0, 0),
        (255, 128, 0, 0),
    ] as [(UInt8, UInt8, UInt8, UInt8)])
    func jetMatchesOpenCVTable(index: UInt8, r: UInt8, g: UInt8, b: UInt8) {
        let color = Colormap.jet(index)
        #expect(color.r == r && color.g == g && color.b == b,
                "jet(\(index)) = (\(color.r), \(color.g), \(color.b)), expected (\(r), \(g), \(b))")
    }

    /// JET runs blue → cyan → yellow → red: blue never rises after the first quarter, red never falls before the last.
    @Test func jetIsPiecewiseMonotone() {
        for i in 32..<255 { #expect(Colormap.jet(UInt8(i + 1)).b <= Colormap.jet(UInt8(i)).b) }
        for i in 0..<223 { #expect(Colormap.jet(UInt8(i + 1)).r >= Colormap.jet(UInt8(i)).r) }
    }
}
