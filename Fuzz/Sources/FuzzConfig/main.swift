import FuzzSupport
import SNNAService

/// The daemon's YAML configuration: Yams' scanner and parser, the key reader and every validation, exactly as
/// `snna serve` and `snna check-config` run them (no environment overrides).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let text = String(decoding: input, as: UTF8.self)
    _ = try? ConfigLoader.parse(text, source: "fuzz.yaml", environment: [:])
    return 0
}

runLibFuzzer(fuzz)
