#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a path was refused by `RegularFile.open(path:)`.
public struct RegularFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    /// What the path is or what failed, e.g. "a FIFO, not a regular file" or "No such file or directory".
    public var reason: String
    /// The errno of the failed call; nil when the path opened but is not a regular file.
    public var errorNumber: Int32?

    public var description: String { "cannot open '\(path)': \(reason)" }
}

/// Opening files that someone else put in a watch folder, without being fooled by what they put there.
///
/// A plain `open(path, O_RDONLY)` on a FIFO blocks until a writer appears (forever, for a FIFO nobody writes), and on
/// a device it reads the device. Checking the type with `stat` first does not help: the path can be swapped between
/// the check and the open. So the path is opened without blocking and without following a final symlink, and the
/// type is checked on the descriptor itself, which cannot be swapped.
public enum RegularFile {
    /// Opens `path` for reading and returns the descriptor and its `fstat`, or throws when the path is missing,
    /// unreadable, a symlink (pass its real path), or anything but a regular file (FIFO, socket, device, folder).
    /// The descriptor is blocking and close-on-exec; the caller closes it.
    public static func open(path: String) throws -> (fd: Int32, stat: stat) {
        // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. O_NOFOLLOW: a symlink swapped
        // in for the file fails with ELOOP instead of leading elsewhere.
        let fd = openNoFollow(path)
        if fd < 0 {
            let e = errno
            let reason = e == ELOOP ? "a symbolic link, not a regular file" : errorText(e)
            throw RegularFileError(path: path, reason: reason, errorNumber: e)
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw RegularFileError(path: path, reason: "fstat: \(errorText(e))", errorNumber: e)
        }
        if st.st_mode & S_IFMT != S_IFREG {
            close(fd)
            throw RegularFileError(path: path, reason: "\(kindName(st.st_mode)), not a regular file", errorNumber: nil)
        }
        // Readers expect ordinary blocking reads (a regular file ignores O_NONBLOCK today, but nothing promises that).
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 {
            let e = errno
            close(fd)
            throw RegularFileError(path: path, reason: "fcntl: \(errorText(e))", errorNumber: e)
        }
        return (fd, st)
    }

    /// The `lstat` of `path` when it is a regular file (not a symlink, FIFO, socket, device or folder), else nil.
    /// Metadata only: nothing is opened.
    public static func metadata(path: String) -> stat? {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return st
    }

    /// A reader's name for a file type, for error messages.
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "an unknown kind of file"
        }
    }

    static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }
}

/// Outside `RegularFile`, whose own `open` would otherwise shadow the C function.
private func openNoFollow(_ path: String) -> Int32 {
    open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
}
