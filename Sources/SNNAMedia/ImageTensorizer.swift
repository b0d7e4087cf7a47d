/// Turns an RGB image into the model's input tensor, as torchvision's ToTensor followed by Normalize.
public enum ImageTensorizer {
    /// CHW float32, channel-major: (u8/255 − mean_c)/std_c. Each step is a float32 operation in the same order
    /// as torchvision (divide, subtract, divide) so values match PyTorch to the bit.
    public static func normalize(_ image: RGBImage, mean: [Float], std: [Float]) -> [Float] {
        precondition(mean.count == 3 && std.count == 3, "mean and std need one value per RGB channel")
        let plane = image.width * image.height
        var out = [Float](repeating: 0, count: plane * 3)
        out.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                for c in 0..<3 {
                    let m = mean[c], s = std[c]
                    let channel = dst.baseAddress! + c * plane
                    for p in 0..<plane {
                        channel[p] = (Float(src[p * 3 + c]) / 255 - m) / s
                    }
                }
            }
        }
        return out
    }
}
