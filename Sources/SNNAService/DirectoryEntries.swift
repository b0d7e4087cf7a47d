#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Listing a folder found under a watch folder.
enum DirectoryEntries {
    /// The names in the folder at `path` ("." and ".." left out), or nil when it cannot be listed. The folder is
    /// opened with O_NOFOLLOW and O_DIRECTORY, so a symlink or a FIFO swapped in for it after it was checked is
    /// refused instead of being followed out of the watch folders or blocking the caller.
    static func names(in path: String) -> [String]? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard let dir = fdopendir(fd) else {
            close(fd)
            return nil
        }
        defer { closedir(dir) }  // closes fd too
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
