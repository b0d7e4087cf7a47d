/// Colour lookup tables for heat maps.
public enum Colormap {
    /// OpenCV's COLORMAP_JET as tabulated in reference §3.4 (verified there against OpenCV), so our heat maps
    /// use the same colours as the authors' figures. Stored in RGB order.
    private static let jetTable: [(r: UInt8, g: UInt8, b: UInt8)] = (0...255).map { i in
        let b: Int
        switch i {
        case ...31: b = 128 + 4 * i
        case 32...95: b = 255
        // OpenCV's interpolation lands on 1 here rather than the 2 the linear piece would give.
        case 159: b = 1
        case 96...159: b = 254 - 4 * (i - 96)
        default: b = 0
        }
        let g: Int
        switch i {
        case ...32: g = 0
        case 33...95: g = 4 * (i - 32)
        case 96...159: g = 255
        case 160...223: g = 252 - 4 * (i - 160)
        default: g = 0
        }
        let r: Int
        switch i {
        case ...95: r = 0
        case 96...159: r = 2 + 4 * (i - 96)
        case 160...223: r = 255
        default: r = 252 - 4 * (i - 224)
        }
        return (UInt8(r), UInt8(g), UInt8(b))
    }

    /// JET colour for a map value already quantized to 0…255; RGB order (OpenCV itself returns BGR).
    public static func jet(_ index: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        jetTable[Int(index)]
    }
}
