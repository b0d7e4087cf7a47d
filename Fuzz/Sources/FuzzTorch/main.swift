import FuzzSupport
import SNNAModelImport

/// The PyTorch checkpoint reader's pickle side: the input is `archive/data.pkl` of an otherwise valid checkpoint
/// whose storages are fixed (see `StoredZip`). Mutating a whole .pth would mostly break its CRCs and stop in the
/// zip reader (the zip target covers that); here every input reaches the unpickler with a real persistent loader and
/// the tensor-rebuilding callables, so storage ids, offsets, sizes and strides are what gets fuzzed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let archive = StoredZip.checkpoint(pickle: Array(input))
    if let checkpoint = try? TorchCheckpoint.open(bytes: archive, label: "fuzz.pth") {
        _ = checkpoint.root.description
        _ = TorchCheckpoint.stateDict(checkpoint.root, path: "state_dict")
    }
    return 0
}

runLibFuzzer(fuzz)
