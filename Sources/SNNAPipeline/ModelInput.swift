import SNNAKernels
import SNNAMedia
import SNNAModel

/// A picture made ready for a model: resized so its short side is the model's input (Pillow-compatible bicubic,
/// reference §3.2), cropped from the top left to a multiple of the patch (§3.1), normalized with the model's mean and
/// std. `photo` is the same crop in RGB; `covered` is the part of the original picture the crop comes from (its top
/// left corner), in the picture's pixels — where a heat map belongs when drawn over the picture.
public struct ModelInput: Sendable {
    public let photo: RGBImage
    public let tensor: ImageTensor
    public let coveredWidth: Int
    public let coveredHeight: Int

    /// - Parameter shortSide: the short side to resize to (default: the model's `input_short_side`).
    /// - Parameter filter: Pillow's resampling filter (bicubic, as the model's preprocessing; bilinear only to
    ///   reproduce the authors' token- and attention-mask evaluation scripts).
    public init(_ image: RGBImage, engine: ViTEngine, shortSide: Int? = nil, filter: PILResize.Filter = .bicubic,
                name: String) throws {
        let config = engine.config
        let p = config.patchSize
        let side = shortSide ?? config.inputShortSide
        let size = PILResize.targetSize(width: image.width, height: image.height, shortSide: side)
        do {
            try engine.checkGrid(height: size.height, width: size.width)
        } catch let e as EngineError {
            throw EngineError("\(name) (\(image.width)×\(image.height)): \(e.message)")
        }
        var resized = image
        if size.width != image.width || size.height != image.height {
            resized = PILResize.resize(image, width: size.width, height: size.height, filter: filter)
        }
        let h = resized.height - resized.height % p, w = resized.width - resized.width % p
        var cropped = RGBImage(width: w, height: h)
        resized.pixels.withUnsafeBufferPointer { src in
            cropped.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    (dst.baseAddress! + y * w * 3).update(from: src.baseAddress! + y * resized.width * 3, count: w * 3)
                }
            }
        }
        photo = cropped
        tensor = ImageTensor(channels: 3, height: h, width: w,
                             data: ImageTensorizer.normalize(cropped, mean: config.mean, std: config.std))
        coveredWidth = min(image.width, Int((Double(w) * Double(image.width) / Double(size.width)).rounded()))
        coveredHeight = min(image.height, Int((Double(h) * Double(image.height) / Double(size.height)).rounded()))
    }
}
