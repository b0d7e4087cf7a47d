import FuzzSupport
import SNNAMedia

/// The container checks run on every video before and after FFmpeg (VideoReader): the ISO-BMFF box walk, the
/// Matroska element walk, the RIFF and MPEG-TS size checks. They read a path, so the input goes through a file.
/// Neither may trap or hang on any bytes; both answer "unknown" (nil / false) rather than throwing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let path = ScratchFile.write(input)
    _ = ContainerCheck.truncation(path: path)
    _ = ContainerCheck.isISOBMFFWithoutMoov(path: path)
    return 0
}

runLibFuzzer(fuzz)
