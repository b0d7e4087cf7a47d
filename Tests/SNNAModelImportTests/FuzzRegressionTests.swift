import Foundation
import Testing
@testable import SNNAModelImport

/// Inputs that once trapped the checkpoint readers (docs/fuzzing.md): each must now be a clear `ImportError`, and the
/// legitimate neighbour of each must still load.
@Suite struct FuzzRegressionTests {
    /// Found reading `rebuild` while writing the torch fuzz target, and confirmed as a crash of that target (ten
    /// minutes of fuzzing had not reached it): an empty tensor (a zero size) whose other sizes multiply past Int.max
    /// skipped the bounds check, which only runs for non-empty tensors, and the contiguity check then trapped
    /// multiplying those sizes.
    @Test func emptyTensorWithOverflowingSizesIsRejected() throws {
        let huge = 1 << 40
        let bad = Fx.checkpoint(.dict([("t", .tensor(.init(key: "0", storage: .f32([1, 2, 3, 4]), shape: [0, huge, huge],
                                                            stride: [1, huge, 1])))]))
        #expect {
            _ = try TorchCheckpoint.load(bytes: bad, label: "zero-size.pth")
        } throws: { error in
            let message = (error as? ImportError)?.message ?? ""
            return message.contains("zero-size.pth") && message.contains("absurd shape")
        }

        // An empty tensor of sensible shape is still read, as an empty tensor.
        let good = Fx.checkpoint(.dict([("t", .tensor(.init(key: "0", storage: .f32([1, 2, 3, 4]), shape: [0, 4])))]))
        let root = try TorchCheckpoint.load(bytes: good, label: "empty.pth")
        #expect(root["t"]?.tensorValue == TorchTensor(shape: [0, 4], values: [], dtype: .float32))
    }

    /// From the unsafe-buffer audit of issue 14 (reproduced as traps): a size-1 dimension with an enormous stride
    /// (its span is 0, so no bound applied, but the gather still stepped by it), and a view whose last element is at
    /// Int.max (the rejection message computed `last + 1`).
    @Test func enormousStridesOfSizeOneDimensionsAndAViewEndingAtIntMax() throws {
        let storage: Fx.Storage = .f32([10, 20])
        let sizeOne = Fx.checkpoint(.dict([("t", .tensor(.init(key: "0", storage: storage, offset: 1, shape: [2, 1],
                                                                stride: [0, Int.max])))]))
        let root = try TorchCheckpoint.load(bytes: sizeOne, label: "size-one.pth")
        #expect(root["t"]?.tensorValue?.values == [20, 20])
        let atMax = Fx.checkpoint(.dict([("t", .tensor(.init(key: "0", storage: storage, offset: 1, shape: [2, 2],
                                                             stride: [1, Int.max - 2])))]))
        #expect {
            _ = try TorchCheckpoint.load(bytes: atMax, label: "at-max.pth")
        } throws: { error in
            ((error as? ImportError)?.message ?? "").contains("elements but storage")
        }
    }
}
