#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLibFuzzer

/// Runs libFuzzer on `testOneInput` with the process's arguments, and exits with its status.
///
/// Why the targets have a main of their own instead of libFuzzer's: SwiftPM (tools ≥ 5.5) compiles an executable
/// module's entry point as `<Module>_main` and links the executable with `--defsym main=<Module>_main` (so tests can
/// link executables). With the usual `-parse-as-library` there is no such symbol and the link fails (swiftlang/swift
/// issue 75800). So each target keeps a one-line main.swift calling this, and libFuzzer's own main (an archive member
/// that is only pulled in when nothing else defines main) is never linked.
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}

/// The input as a buffer (libFuzzer may pass a null pointer with size 0).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
}
