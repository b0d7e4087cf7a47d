import FuzzSupport
import SNNAEvaluation

/// The labels file of `snna head fit`, `head score` and `eval` (JSON object or CSV with an optional header), for a
/// model with the four BDD actions.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let path = ScratchFile.write(input)
    _ = try? LabelsFile.read(path, labels: ["move_forward", "slow_down", "turn_left", "turn_right"])
    return 0
}

runLibFuzzer(fuzz)
