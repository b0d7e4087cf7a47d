#if canImport(Glibc)
import Glibc
#endif

/// Free space as an unprivileged process may use it (statvfs f_bavail: what is left for non-root writers).
enum DiskSpace {
    static func freeBytes(_ path: String) -> UInt64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }
}
