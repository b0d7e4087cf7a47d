/// An 8-bit RGB picture, the one currency between decoding, resampling, rendering and PNG writing.
/// Interleaved row-major RGB matches what swscale (RGB24), libpng (PNG_FORMAT_RGB) and PIL all use,
/// so no stage needs to reshuffle bytes.
public struct RGBImage: Sendable, Equatable {
    public private(set) var width: Int
    public private(set) var height: Int
    /// RGB interleaved, row-major; count == width * height * 3.
    public var pixels: [UInt8]

    /// The size invariant, checked by the functions that write through raw pointers (`pixels` can be replaced).
    @inline(__always)
    func checkInvariant() {
        precondition(pixels.count == width * height * 3,
                     "RGBImage \(width)x\(height) holds \(pixels.count) bytes, not \(width * height * 3)")
    }

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}

extension RGBImage {
    /// The picture mirrored left to right.
    public func flippedHorizontally() -> RGBImage {
        var out = self
        for y in 0..<height {
            for x in 0..<width {
                let src = (y * width + (width - 1 - x)) * 3, dst = (y * width + x) * 3
                out.pixels[dst] = pixels[src]
                out.pixels[dst + 1] = pixels[src + 1]
                out.pixels[dst + 2] = pixels[src + 2]
            }
        }
        return out
    }
}
