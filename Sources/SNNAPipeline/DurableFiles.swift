import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// fsync for files and folders, so that what a rename publishes is on disk before the rename itself, and the rename
/// is on disk before anyone is told (docs/daemon.md, "Durability"). Each error carries strerror's text, so a full
/// disk (ENOSPC) or a failing one (EIO) reads as what it is.
public enum DurableFiles {
    /// fsyncs every regular file under `path` (not following symlinks), then every folder bottom-up, `path` last.
    public static func syncTree(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("cannot open '\(path)' to sync it: \(errnoText())") }
        defer { close(fd) }
        try syncChildren(of: fd, path: path)
        guard fsync(fd) == 0 else { throw PipelineError("cannot sync '\(path)': \(errnoText())") }
    }

    /// fsyncs one folder (its entries: names created, renamed or removed in it).
    public static func syncFolder(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("cannot open '\(path)' to sync it: \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PipelineError("cannot sync '\(path)': \(errnoText())") }
    }

    private static func syncChildren(of dirFD: Int32, path: String) throws {
        let copy = dup(dirFD)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw PipelineError("cannot list '\(path)': \(errnoText())")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names.sorted() {
            var st = stat()
            guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFDIR else { continue }
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (kind == S_IFDIR ? O_DIRECTORY : 0)
            let fd = openat(dirFD, name, flags)
            guard fd >= 0 else { throw PipelineError("cannot open '\(path)/\(name)' to sync it: \(errnoText())") }
            defer { close(fd) }
            if kind == S_IFDIR { try syncChildren(of: fd, path: path + "/" + name) }
            guard fsync(fd) == 0 else { throw PipelineError("cannot sync '\(path)/\(name)': \(errnoText())") }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
