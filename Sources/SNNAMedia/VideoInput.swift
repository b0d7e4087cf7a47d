import CFFmpeg
import Glibc

/// The one file a `VideoReader` reads, opened by us and handed to FFmpeg as an AVIOContext over our descriptor.
///
/// Why a descriptor and not a path: a path can be swapped between a check and FFmpeg's own `open` (a FIFO would
/// then block a worker forever, a device could be opened at all). Here the path is opened once, non-blocking and
/// without following a final symlink, `fstat` decides on that very descriptor, and FFmpeg only ever reads through
/// it. An AVIOContext rather than FFmpeg re-opening `/proc/self/fd/N`: FFmpeg then opens nothing by name for the
/// input, needs no /proc, and still probes with the caller's file name (its extension is a probing hint).
/// Linux only, like the rest of the media code.
final class VideoInput {
    /// What the caller passed: every message names it.
    let path: String
    let fd: Int32
    /// A name for the very inode opened (`/proc/self/fd/N`, valid while this object lives), for code that wants a
    /// path, e.g. `ContainerCheck`; the resolved path where /proc does not show this descriptor.
    let inodePath: String
    /// Owned: freed in deinit, after the AVFormatContext that uses it (`VideoReader` closes that first).
    let io: UnsafeMutablePointer<AVIOContext>
    /// The descriptor again, in memory of its own: the callbacks' `opaque` (C function pointers capture nothing).
    private let callbackFD: UnsafeMutablePointer<Int32>

    /// FFmpeg's own file protocol reads in blocks of this size (IO_BUFFER_SIZE).
    private static let bufferSize: Int32 = 32_768

    /// Opens `path` for reading. Errors name `path` and are one line: missing, unreadable, a directory, an empty
    /// file, or anything but a regular file (FIFO, socket, device), which is refused without blocking.
    /// Every failure is thrown before the object exists, so nothing is released twice.
    init(path: String, kind: String = "video", notDecodable: (String, String) -> MediaError) throws {
        let (fd, info, resolvedPath) = try VideoInput.openRegularFile(path, kind: kind)
        if info.st_size == 0 {
            close(fd)
            throw notDecodable(path, "the file is empty")
        }
        let callbackFD = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        callbackFD.initialize(to: fd)
        let buffer = av_malloc(Int(VideoInput.bufferSize))?.assumingMemoryBound(to: UInt8.self)
        guard let buffer, let io = avio_alloc_context(buffer, VideoInput.bufferSize, 0, callbackFD,
                                                      VideoInput.readPacket, nil, VideoInput.seek) else {
            av_free(buffer)  // nil-safe; avio_alloc_context failing does not take it
            callbackFD.deallocate()
            close(fd)
            throw notDecodable(path, "out of memory")
        }
        self.path = path
        self.fd = fd
        self.io = io
        self.callbackFD = callbackFD
        let procPath = "/proc/self/fd/\(fd)"
        var viaProc = stat()
        if stat(procPath, &viaProc) == 0 && viaProc.st_dev == info.st_dev && viaProc.st_ino == info.st_ino {
            inodePath = procPath
        } else {
            inodePath = resolvedPath
        }
    }

    deinit {
        // FFmpeg may have replaced the buffer while probing: free the one the context holds now.
        av_freep(&io.pointee.buffer)
        var owned: UnsafeMutablePointer<AVIOContext>? = io
        avio_context_free(&owned)
        callbackFD.deallocate()
        close(fd)
    }

    /// realpath, a look at the type, open without following or blocking, and the decision on the descriptor.
    /// Returns the open descriptor, its fstat and the resolved path.
    private static func openRegularFile(_ path: String, kind: String) throws -> (Int32, stat, String) {
        // A symlink the user passed on purpose still works: resolve it, then refuse a final symlink that appears
        // between here and open (O_NOFOLLOW).
        guard let resolved = realpath(path, nil) else {
            throw cannotRead(path, kind, String(cString: strerror(errno)))
        }
        let resolvedPath = String(cString: resolved)
        free(resolved)

        // Looked at before opening, because opening a device can have effects of its own (a tape rewinds, a
        // terminal becomes controlling); the descriptor's fstat below is what decides, race-free.
        var before = stat()
        if stat(resolvedPath, &before) == 0, let refusal = refusal(mode: before.st_mode) {
            throw cannotRead(path, kind, refusal)
        }
        // O_NONBLOCK: a FIFO swapped in after the stat above opens at once instead of waiting for a writer.
        let fd = open(resolvedPath, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it was replaced by a symbolic link while being opened"
                : String(cString: strerror(errno))
            throw cannotRead(path, kind, reason)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw cannotRead(path, kind, reason)
        }
        if let refusal = refusal(mode: info.st_mode) {
            close(fd)
            throw cannotRead(path, kind, refusal)
        }
        // Reads of a regular file never block; clearing the flag keeps them plain blocking reads all the same.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return (fd, info, resolvedPath)
    }

    /// Why a file of this type is refused; nil for a regular file.
    static func refusal(mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "Is a directory"  // strerror(EISDIR), as before
        case S_IFIFO: return "it is a FIFO, not a regular file"
        case S_IFSOCK: return "it is a socket, not a regular file"
        case S_IFCHR: return "it is a character device, not a regular file"
        case S_IFBLK: return "it is a block device, not a regular file"
        case S_IFLNK: return "it is a symbolic link, not a regular file"
        default: return "it is not a regular file"
        }
    }

    private static func cannotRead(_ path: String, _ kind: String, _ reason: String) -> MediaError {
        MediaError("cannot read \(kind) '\(path)': \(reason)")
    }

    // MARK: - AVIOContext callbacks (C function pointers: no captures, the object comes through `opaque`)

    private static let readPacket: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int32) -> Int32 = {
        opaque, buffer, size in
        guard let opaque, let buffer, size > 0 else { return cff_averror(EINVAL) }
        let fd = opaque.load(as: Int32.self)
        while true {
            let got = read(fd, buffer, Int(size))
            if got > 0 { return Int32(got) }
            if got == 0 { return cff_averror_eof() }
            if errno != EINTR { return cff_averror(errno) }
        }
    }

    private static let seek: @convention(c) (UnsafeMutableRawPointer?, Int64, Int32) -> Int64 = { opaque, offset, whence in
        guard let opaque else { return Int64(cff_averror(EINVAL)) }
        let fd = opaque.load(as: Int32.self)
        if whence & AVSEEK_SIZE != 0 {
            // The current size, as FFmpeg's file protocol reports it (a file still growing reads further).
            var info = stat()
            return fstat(fd, &info) == 0 ? Int64(info.st_size) : Int64(cff_averror(errno))
        }
        let position = lseek(fd, off_t(offset), whence & ~AVSEEK_FORCE)
        return position < 0 ? Int64(cff_averror(errno)) : Int64(position)
    }
}
