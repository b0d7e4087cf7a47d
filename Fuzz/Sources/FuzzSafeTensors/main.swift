import FuzzSupport
import SNNAModel

/// The safetensors header reader, the tensor reads, and the snna-vit/1 model loader on top of them (every shape and
/// metadata check of `ModelFile.load`). Any input must end in a value or a thrown error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let path = ScratchFile.write(input)
    guard let file = try? SafeTensorsFile(path: path) else { return 0 }
    // Every tensor: a validated header bounds each one by the data section, so these reads stay input-sized.
    for name in file.names { _ = try? file.floats(name) }
    _ = try? ModelFile.load(path: path)
    return 0
}

runLibFuzzer(fuzz)
