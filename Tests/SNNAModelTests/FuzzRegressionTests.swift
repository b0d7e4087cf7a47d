import Foundation
import Testing
import SNNAModel

/// Inputs that once trapped the safetensors reader or the model loader (docs/fuzzing.md): each must now be a clear
/// thrown error, and the legitimate neighbour of each must still load.
@Suite struct FuzzRegressionTests {
    /// A fresh temporary folder per test, removed afterwards.
    func withTempDir(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "snna-fuzz-regression-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    /// A safetensors file: length prefix, header text, then `dataSize` bytes (written as a hole when large: the
    /// readers under test never get to the data).
    func write(header: String, dataSize: Int = 0, to path: String) throws {
        let h = Array(header.utf8)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) }
        try Data(prefix + h).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(8 + h.count + dataSize))
        try handle.close()
    }

    /// Found reading the header check while writing the safetensors fuzz target, and confirmed as a crash of that
    /// target: an empty tensor whose other dimensions multiply past Int.max passed the header check (its byte count
    /// is 0) and trapped with an arithmetic overflow in `elementCount` when read.
    @Test func emptyTensorWithOverflowingDimensionsIsRejected() throws {
        try withTempDir { dir in
            let path = dir + "/zero-dim.safetensors"
            try write(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}}"#, to: path)
            #expect {
                let file = try SafeTensorsFile(path: path)
                _ = try file.floats("a")
            } throws: { error in
                let message = (error as? SafeTensorsError)?.message ?? ""
                return message.contains("'a'") && message.contains("overflows") && message.contains(path)
            }

            // An empty tensor of sensible shape is still a valid, empty tensor.
            try write(header: #"{"a":{"dtype":"F32","shape":[3,0,2],"data_offsets":[0,0]}}"#, to: path)
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors["a"]?.elementCount == 0)
            #expect(try file.floats("a").isEmpty)
        }
    }

    /// Found by reading the loader while writing the fuzz target (the input is a 50 MB file, past the fuzzer's
    /// lengths): a patch size above `maxInputShortSide` made the range `p...4096` for input_short_side trap.
    @Test func patchSizeLargerThanAnyInputIsRejected() throws {
        try withTempDir { dir in
            let path = dir + "/huge-patch.safetensors"
            let p = ModelFile.maxInputShortSide + 1
            let patchBytes = 3 * p * p  // U8: the loader checks shapes before it reads or converts any data
            let header = #"{"__metadata__":{"format":"snna-vit/1"},"#
                + #""cls_token":{"dtype":"F32","shape":[1,1,1],"data_offsets":[0,4]},"#
                + #""pos_embed":{"dtype":"F32","shape":[1,2,1],"data_offsets":[4,12]},"#
                + #""patch_embed.proj.weight":{"dtype":"U8","shape":[1,3,\#(p),\#(p)],"data_offsets":[12,\#(12 + patchBytes)]}}"#
            try write(header: header, dataSize: 12 + patchBytes, to: path)
            #expect {
                _ = try ModelFile.load(path: path)
            } throws: { error in
                let message = (error as? EngineError)?.message ?? ""
                return message.contains("patch size \(p)") && message.contains("patch_embed.proj.weight")
            }
        }
    }
}
