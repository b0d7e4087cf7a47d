import SNNAKernels
@testable import SNNAModel

/// Small random models and inputs of several shapes, shared by the engine tests.
enum TinyModels {
    struct Case: CustomStringConvertible {
        let name: String
        let model: ViTModel
        let image: ImageTensor
        var description: String { name }
    }

    static func image(height: Int, width: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededRandom(seed: seed)
        return ImageTensor(channels: 3, height: height, width: width,
                           data: (0..<(3 * height * width)).map { _ in rng.gaussian() })
    }

    /// Patch 4 on a non-square image with an untouched crop remainder; patch 14 with LayerScale and `size`
    /// interpolation; fewer head slots than blocks; a single-block model.
    static let cases: [Case] = [
        Case(name: "p4-d16-l3-h2 dino 13×9",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 3, gridSize: 3, seed: 11),
             image: image(height: 9, width: 13, seed: 1)),
        Case(name: "p14-d24-l2-h3 layerscale size 28×42",
             model: RandomModel.make(patchSize: 14, dim: 24, depth: 2, numHeads: 3, numClasses: 4, gridSize: 2,
                                     layerScale: true, positionalInterpolation: .size, seed: 12),
             image: image(height: 28, width: 42, seed: 2)),
        Case(name: "p4-d16-l4-h4 nLast2 16×12",
             model: RandomModel.make(patchSize: 4, dim: 16, depth: 4, numHeads: 4, numClasses: 2, gridSize: 3,
                                     nLastBlocks: 2, seed: 13),
             image: image(height: 12, width: 16, seed: 3)),
        Case(name: "p2-d8-l1-h1 single block 6×6",
             model: RandomModel.make(patchSize: 2, dim: 8, depth: 1, numHeads: 1, numClasses: 2, gridSize: 3, seed: 14),
             image: image(height: 6, width: 6, seed: 4)),
    ]
}
