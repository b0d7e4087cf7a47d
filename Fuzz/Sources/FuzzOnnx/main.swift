import FuzzSupport
import SNNAModelImport

/// The ONNX protobuf reader (ModelProto → GraphProto → NodeProto / TensorProto) and, when it parses, the ViT importer
/// that maps initializers to backbone tensors (shape checks, transposes, position-embedding assembly).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let bytes = Array(input)
    guard let model = try? OnnxModel(bytes: bytes, source: "fuzz.onnx") else { return 0 }
    if let imported = try? OnnxViTImporter.importBackbone(model, heads: nil) {
        _ = OnnxViTImporter.orderedNames(imported.tensors)
    }
    return 0
}

runLibFuzzer(fuzz)
