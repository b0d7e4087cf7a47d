import FuzzSupport
import SNNAModelImport

/// The restricted unpickler on raw pickle bytes (protocols 0–5), with a persistent loader that hands the id back
/// (so PERSID / BINPERSID reach the conversion code) and no callables. The result is printed to a string too:
/// `description` walks the whole value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let bytes = Array(input)
    if let value = try? Pickle.load(bytes, label: "fuzz.pkl", persistentLoad: { $0 }) {
        _ = value.description
    }
    return 0
}

runLibFuzzer(fuzz)
