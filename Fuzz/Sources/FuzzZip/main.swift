import FuzzSupport
import SNNAModelImport

/// The ZIP reader (end records, ZIP64, central directory, local headers, CRC) and, when the archive opens, the
/// PyTorch checkpoint reader on top of it (the seeds are real torch-layout archives).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let bytes = Array(input)
    guard let zip = try? ZipArchive(bytes: bytes, label: "fuzz.zip") else { return 0 }
    for entry in zip.entries { _ = try? zip.data(entry) }
    if let checkpoint = try? TorchCheckpoint.open(bytes: bytes, label: "fuzz.pth") {
        _ = TorchCheckpoint.stateDict(checkpoint.root)
    }
    return 0
}

runLibFuzzer(fuzz)
