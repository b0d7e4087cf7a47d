import Testing
@testable import SNNAMedia

struct ImageTensorizerTests {
    @Test func producesChannelMajorNormalizedValues() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 10, 20, 30])
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let t = ImageTensorizer.normalize(image, mean: mean, std: std)
        #expect(t.count == 6)
        let expected: [Float] = [
            (0 / 255 - 0.485) / 0.229, (10 / 255 - 0.485) / 0.229,
            (Float(128) / 255 - 0.456) / 0.224, (Float(20) / 255 - 0.456) / 0.224,
            (1 - 0.406) / 0.225, (Float(30) / 255 - 0.406) / 0.225,
        ]
        #expect(t == expected)
        // Range quoted in reference §3.1.
        #expect(abs(t[0] - -2.1179) < 1e-4 && abs(t[4] - 2.6400) < 1e-4)
    }
}
