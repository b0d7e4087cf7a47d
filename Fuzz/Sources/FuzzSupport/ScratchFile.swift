#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one file a path-taking parser reads each input from. Parsers such as `ContainerCheck` and `SafeTensorsFile`
/// open a path (they stat, seek and pread), so the fuzz input has to be on disk; one file per process, rewritten for
/// every input, keeps that to a truncate and a write.
public enum ScratchFile {
    /// In $TMPDIR, else /dev/shm (memory: no disk writes at thousands of inputs a second), else /tmp; named after
    /// the process so that two fuzzers never share it; removed at normal exit.
    public static let path: String = {
        let folder = getenv("TMPDIR").map { String(cString: $0) }
            ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        let path = "\(folder)/snna-fuzz-\(getpid())"
        atexit { unlink(ScratchFile.path) }
        return path
    }()

    /// Replaces the file's contents with the input and returns its path. A failure here is the harness's, not the
    /// parser's: it traps loudly rather than fuzzing an empty file.
    @discardableResult
    public static func write(_ input: UnsafeBufferPointer<UInt8>) -> String {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("fuzz harness: cannot open scratch file \(path)") }
        defer { close(fd) }
        guard let base = input.baseAddress else { return path }
        var done = 0
        while done < input.count {
            let n = Glibc.write(fd, base + done, input.count - done)
            guard n > 0 else { fatalError("fuzz harness: cannot write scratch file \(path)") }
            done += n
        }
        return path
    }
}
