import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A matching file under a watch folder that is complete (closed after writing, moved into place, or quiet).
public struct CandidateFile: Sendable, Equatable {
    /// The file's real path (symlinks inside the watch folders resolved).
    public var path: String
    public var size: Int64
    /// Seconds since 1970.
    public var mtime: Double

    public init(path: String, size: Int64, mtime: Double) {
        self.path = path
        self.size = size
        self.mtime = mtime
    }
}

public struct FolderWatcherError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Watches folders with inotify and reports each matching file once it is complete.
///
/// A file is complete when it is closed after writing (`IN_CLOSE_WRITE`), renamed into place (`IN_MOVED_TO`), or, when
/// neither is seen (a writer on another machine over a network share), when its size and mtime have not changed for
/// `quietPeriod` seconds. Empty files are never reported. Hidden entries (name starting with '.'), the excluded folders
/// and symlinks whose real path is outside every watch folder are ignored. Paths are reported as real paths.
public final class FolderWatcher: @unchecked Sendable {
    private struct Root {
        var path: String
        var recursive: Bool
        var patterns: [String]
    }
    private struct Stamp: Equatable {
        var size: Int64
        var mtime: Double
    }
    private struct Pending {
        var stamp: Stamp
        /// Monotonic time when this stamp was first seen.
        var since: Double
    }
    private enum Entry {
        case file(String)
        case dir(String)
        case none
    }
    private enum WalkMode {
        /// scan(): quiet files are returned, others go pending.
        case scan
        /// start(): quiet files are left to scan(), others go pending.
        case initial
        /// A new folder or a rescan after overflow: quiet files not yet reported are reported, others go pending.
        case report
    }

    private let roots: [Root]
    private let excluded: [String]
    public let quietPeriod: Double
    private let pollInterval: Double

    private let lock = NSLock()
    // Everything below is guarded by `lock`.
    private var inotifyFD: Int32 = -1
    private var wakeFD: Int32 = -1
    private var wakeWriteFD: Int32 = -1
    private var started = false
    private var stopped = false
    private var threadRunning = false
    private var watcherThread: pthread_t?
    private let finished = DispatchSemaphore(value: 0)
    private var wdToDir: [Int32: String] = [:]
    private var dirToWd: [String: Int32] = [:]
    /// Real folder path → indices of the roots that cover it.
    private var dirRoots: [String: Set<Int>] = [:]
    private var pending: [String: Pending] = [:]
    private var reported: [String: Stamp] = [:]

    // inotify constants (sys/inotify.h), spelled out to avoid importer surprises.
    private static let inModify: UInt32 = 0x0000_0002
    private static let inAttrib: UInt32 = 0x0000_0004
    private static let inCloseWrite: UInt32 = 0x0000_0008
    private static let inMovedFrom: UInt32 = 0x0000_0040
    private static let inMovedTo: UInt32 = 0x0000_0080
    private static let inCreate: UInt32 = 0x0000_0100
    private static let inDelete: UInt32 = 0x0000_0200
    private static let inDeleteSelf: UInt32 = 0x0000_0400
    private static let inMoveSelf: UInt32 = 0x0000_0800
    private static let inQOverflow: UInt32 = 0x0000_4000
    private static let inIgnored: UInt32 = 0x0000_8000
    private static let inOnlyDir: UInt32 = 0x0100_0000
    private static let inDontFollow: UInt32 = 0x0200_0000
    private static let inExclUnlink: UInt32 = 0x0400_0000
    private static let inIsDir: UInt32 = 0x4000_0000
    private static let watchMask: UInt32 = inModify | inAttrib | inCloseWrite | inMovedFrom | inMovedTo | inCreate
        | inDelete | inDeleteSelf | inMoveSelf | inOnlyDir | inDontFollow | inExclUnlink

    /// `excluded`: folders never watched or reported (the service's output and state folders), even when inside a watch folder.
    public init(folders: [ServiceConfig.WatchFolder], excluded: [String], quietPeriod: Double) {
        roots = folders.map {
            Root(path: FolderWatcher.resolve($0.path), recursive: $0.recursive, patterns: $0.patterns)
        }
        self.excluded = excluded.filter { !$0.isEmpty }.map { FolderWatcher.resolve($0) }
        self.quietPeriod = max(0, quietPeriod)
        pollInterval = min(2.0, max(0.25, quietPeriod / 4))
    }

    deinit {
        if inotifyFD >= 0 { close(inotifyFD) }
        if wakeFD >= 0 { close(wakeFD) }
        if wakeWriteFD >= 0 { close(wakeWriteFD) }
    }

    // MARK: - Public API

    /// Starts inotify on every watch folder (and, when recursive, every subfolder, including ones created later) on its
    /// own thread, and calls `ready` (on that thread) once per complete file.
    public func start(ready: @escaping @Sendable (CandidateFile) -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        if started { throw FolderWatcherError(description: "folder watcher already started") }
        if stopped { throw FolderWatcherError(description: "folder watcher was stopped") }
        let fd = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        if fd < 0 { throw FolderWatcherError(description: "inotify_init1: \(String(cString: strerror(errno)))") }
        // A self-pipe wakes the thread (stop, or new pending files from scan()).
        var pipeFDs: [Int32] = [-1, -1]
        if pipe(&pipeFDs) != 0 {
            let e = errno
            close(fd)
            throw FolderWatcherError(description: "pipe: \(String(cString: strerror(e)))")
        }
        for p in pipeFDs {
            _ = fcntl(p, F_SETFD, FD_CLOEXEC)
            _ = fcntl(p, F_SETFL, fcntl(p, F_GETFL) | O_NONBLOCK)
        }
        let efd = pipeFDs[0]
        inotifyFD = fd
        wakeFD = efd
        wakeWriteFD = pipeFDs[1]
        for (i, root) in roots.enumerated() where !isExcluded(root.path) {
            let wd = inotify_add_watch(fd, root.path, FolderWatcher.watchMask)
            if wd < 0 {
                let e = errno
                close(fd); close(efd); close(wakeWriteFD)
                inotifyFD = -1; wakeFD = -1; wakeWriteFD = -1
                wdToDir = [:]; dirToWd = [:]; dirRoots = [:]
                throw FolderWatcherError(description: "cannot watch \(root.path): \(String(cString: strerror(e)))")
            }
            wdToDir[wd] = root.path
            dirToWd[root.path] = wd
            _ = walkLocked(root.path, root: i, mode: .initial)
        }
        started = true
        threadRunning = true
        let thread = Thread { [self] in self.run(ready: ready) }
        thread.name = "snna-watcher"
        thread.start()
    }

    /// Every matching complete file now under the watch folders: regular files whose mtime is at least `quietPeriod`
    /// old. Files that are not yet quiet are put on the pending list so start()'s thread reports them later.
    public func scan() -> [CandidateFile] {
        lock.lock()
        var found: [CandidateFile] = []
        for (i, root) in roots.enumerated() {
            found += walkLocked(root.path, root: i, mode: .scan)
        }
        let wake = !pending.isEmpty && threadRunning
        lock.unlock()
        if wake { signalWake() }
        var seen = Set<String>()
        return found.filter { seen.insert($0.path).inserted }.sorted { $0.path < $1.path }
    }

    /// Stops the thread and closes the inotify fd; idempotent. Waits for the thread unless called from it.
    public func stop() {
        lock.lock()
        if stopped {
            lock.unlock()
            return
        }
        stopped = true
        let running = threadRunning
        let onWatcher = watcherThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        lock.unlock()
        if running {
            signalWake()
            if !onWatcher { finished.wait() }
        }
    }

    // MARK: - Thread

    private func run(ready: @Sendable (CandidateFile) -> Void) {
        lock.lock()
        watcherThread = pthread_self()
        let fd = inotifyFD
        let efd = wakeFD
        lock.unlock()

        let bufSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        var nextCheck = FolderWatcher.monotonic() + pollInterval

        while true {
            lock.lock()
            let stopNow = stopped
            let hasPending = !pending.isEmpty
            lock.unlock()
            if stopNow { break }

            var timeout: Int32 = -1
            if hasPending {
                let left = max(0, nextCheck - FolderWatcher.monotonic())
                timeout = Int32((left * 1000).rounded(.up))
            }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: efd, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, timeout)
            if n < 0 && errno != EINTR { break }

            var out: [CandidateFile] = []
            if n > 0 && fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(efd, &drain, drain.count) > 0 {}
            }
            if n > 0 && fds[0].revents != 0 {
                if fds[0].revents & Int16(POLLIN) == 0 { break }  // POLLERR/POLLNVAL: fd unusable
                while true {
                    let got = read(fd, buffer, bufSize)
                    if got <= 0 { break }
                    out += handleEvents(buffer, count: got)
                }
            }
            let now = FolderWatcher.monotonic()
            if now >= nextCheck {
                out += checkPending(now: now)
                nextCheck = now + pollInterval
            } else if !hasPending {
                nextCheck = now + pollInterval
            }
            for file in out {
                lock.lock()
                let stopNow = stopped
                lock.unlock()
                if stopNow { break }
                ready(file)
            }
        }

        lock.lock()
        close(fd)
        close(efd)
        close(wakeWriteFD)
        inotifyFD = -1
        wakeFD = -1
        wakeWriteFD = -1
        threadRunning = false
        lock.unlock()
        finished.signal()
    }

    private func signalWake() {
        lock.lock()
        let wfd = wakeWriteFD
        if wfd >= 0 {
            var one: UInt8 = 1
            _ = write(wfd, &one, 1)  // a full pipe (EAGAIN) already means "wake up"
        }
        lock.unlock()
    }

    private func handleEvents(_ buffer: UnsafeMutableRawPointer, count: Int) -> [CandidateFile] {
        lock.lock()
        defer { lock.unlock() }
        var out: [CandidateFile] = []
        let header = MemoryLayout<inotify_event>.size
        var offset = 0
        while offset + header <= count {
            let event = buffer.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
            let len = Int(event.len)
            var name = ""
            if len > 0 {
                let namePtr = (buffer + offset + header).assumingMemoryBound(to: CChar.self)
                name = String(cString: namePtr)  // NUL-padded within len
            }
            offset += header + len
            let mask = event.mask
            if mask & FolderWatcher.inQOverflow != 0 {
                out += rescanLocked()
                continue
            }
            if mask & FolderWatcher.inIgnored != 0 {
                if let dir = wdToDir.removeValue(forKey: event.wd), dirToWd[dir] == event.wd {
                    dirToWd[dir] = nil
                    dirRoots[dir] = nil
                }
                continue
            }
            guard let dir = wdToDir[event.wd] else { continue }
            if name.isEmpty {
                // Events on the folder itself (deleted or moved): forget it; IN_IGNORED follows for deletion.
                if mask & (FolderWatcher.inDeleteSelf | FolderWatcher.inMoveSelf) != 0 { forgetTreeLocked(dir, removeWatches: true) }
                continue
            }
            if name.hasPrefix(".") { continue }
            let path = dir == "/" ? "/" + name : dir + "/" + name
            let isDir = mask & FolderWatcher.inIsDir != 0

            if mask & (FolderWatcher.inDelete | FolderWatcher.inMovedFrom) != 0 {
                if isDir {
                    forgetTreeLocked(path, removeWatches: mask & FolderWatcher.inMovedFrom != 0)
                } else {
                    pending[path] = nil
                    reported[path] = nil
                }
                continue
            }
            let covering = dirRoots[dir] ?? []
            if isDir && mask & (FolderWatcher.inCreate | FolderWatcher.inMovedTo) != 0 {
                for i in covering where roots[i].recursive {
                    if case .dir(let real) = classifyLocked(dir: dir, name: name, roots: [i]) {
                        out += walkLocked(real, root: i, mode: .report)
                    }
                }
                continue
            }
            if isDir { continue }
            switch classifyLocked(dir: dir, name: name, roots: covering) {
            case .none:
                continue
            case .dir(let real):
                // A symlink to a folder inside the watch folders.
                for i in covering where roots[i].recursive { out += walkLocked(real, root: i, mode: .report) }
            case .file(let real):
                if mask & (FolderWatcher.inCloseWrite | FolderWatcher.inMovedTo) != 0 {
                    guard let stamp = FolderWatcher.stamp(real) else {
                        pending[real] = nil
                        continue
                    }
                    if stamp.size == 0 {
                        pending[real] = nil  // an empty file is never complete; a later write brings it back
                        continue
                    }
                    if let file = reportLocked(real, stamp) { out.append(file) }
                } else if pending[real] == nil, let stamp = FolderWatcher.stamp(real) {
                    // Created, written or touched: it becomes complete when closed, or when quiet.
                    if reported[real] != stamp || mask & FolderWatcher.inCreate != 0 {
                        pending[real] = Pending(stamp: stamp, since: FolderWatcher.monotonic())
                    }
                }
            }
        }
        return out
    }

    private func checkPending(now: Double) -> [CandidateFile] {
        lock.lock()
        defer { lock.unlock() }
        var out: [CandidateFile] = []
        for (path, entry) in pending {
            guard let stamp = FolderWatcher.stamp(path) else {
                pending[path] = nil  // deleted before it was reported
                continue
            }
            if stamp != entry.stamp {
                pending[path] = Pending(stamp: stamp, since: now)
            } else if now - entry.since >= quietPeriod {
                pending[path] = nil
                if stamp.size > 0, let file = reportLocked(path, stamp) { out.append(file) }
            }
        }
        return out
    }

    private func rescanLocked() -> [CandidateFile] {
        var out: [CandidateFile] = []
        for (i, root) in roots.enumerated() {
            out += walkLocked(root.path, root: i, mode: .report)
        }
        return out
    }

    // MARK: - Walking and classification (lock held)

    /// Walks a real folder path covered by root `i`: adds watches (when started), and handles every matching file.
    private func walkLocked(_ top: String, root i: Int, mode: WalkMode) -> [CandidateFile] {
        var out: [CandidateFile] = []
        var visited = Set<String>()
        var stack = [top]
        let wallNow = Date().timeIntervalSince1970
        let monoNow = FolderWatcher.monotonic()
        while let dir = stack.popLast() {
            if isExcluded(dir) || !visited.insert(dir).inserted { continue }
            var st = stat()
            guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            if inotifyFD >= 0 && !stopped && dirToWd[dir] == nil {
                let wd = inotify_add_watch(inotifyFD, dir, FolderWatcher.watchMask)
                if wd >= 0 {
                    if let old = wdToDir[wd], old != dir { dirToWd[old] = nil; dirRoots[old] = nil }
                    wdToDir[wd] = dir
                    dirToWd[dir] = wd
                }
            }
            dirRoots[dir, default: []].insert(i)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names where !name.hasPrefix(".") {
                switch classifyLocked(dir: dir, name: name, roots: [i]) {
                case .none:
                    break
                case .dir(let real):
                    if roots[i].recursive { stack.append(real) }
                case .file(let real):
                    guard let stamp = FolderWatcher.stamp(real), stamp.size > 0 else { continue }
                    let quiet = wallNow - stamp.mtime >= quietPeriod
                    if !quiet {
                        if pending[real]?.stamp != stamp { pending[real] = Pending(stamp: stamp, since: monoNow) }
                        continue
                    }
                    switch mode {
                    case .scan:
                        pending[real] = nil
                        reported[real] = stamp
                        out.append(CandidateFile(path: real, size: stamp.size, mtime: stamp.mtime))
                    case .initial:
                        break
                    case .report:
                        if let file = reportLocked(real, stamp) { out.append(file) }
                    }
                }
            }
        }
        return out
    }

    /// What `dir/name` is, for the given roots: a matching regular file (real path), a folder to walk (real path), or
    /// nothing (hidden, not matching, excluded, another kind of file, or a symlink leading out of the watch folders).
    private func classifyLocked(dir: String, name: String, roots covering: Set<Int>) -> Entry {
        if name.hasPrefix(".") { return .none }
        let path = dir == "/" ? "/" + name : dir + "/" + name
        var st = stat()
        guard lstat(path, &st) == 0 else { return .none }
        var real = path
        if st.st_mode & S_IFMT == S_IFLNK {
            guard let resolved = FolderWatcher.realPath(path), isInsideRoots(resolved), stat(resolved, &st) == 0 else {
                return .none
            }
            real = resolved
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            return isExcluded(real) ? .none : .dir(real)
        case S_IFREG:
            if isExcluded(real) { return .none }
            for i in covering where roots[i].patterns.contains(where: { FolderWatcher.globMatch($0, name) }) {
                return .file(real)
            }
            return .none
        default:
            return .none
        }
    }

    /// Reports a file unless this exact version (size and mtime) was reported already.
    private func reportLocked(_ path: String, _ stamp: Stamp) -> CandidateFile? {
        pending[path] = nil
        if reported[path] == stamp { return nil }
        reported[path] = stamp
        return CandidateFile(path: path, size: stamp.size, mtime: stamp.mtime)
    }

    private func forgetTreeLocked(_ top: String, removeWatches: Bool) {
        let prefix = top + "/"
        for (dir, wd) in dirToWd where dir == top || dir.hasPrefix(prefix) {
            if removeWatches && inotifyFD >= 0 { _ = inotify_rm_watch(inotifyFD, wd) }
            dirToWd[dir] = nil
            dirRoots[dir] = nil
            if wdToDir[wd] == dir { wdToDir[wd] = nil }
        }
        for path in pending.keys where path.hasPrefix(prefix) { pending[path] = nil }
        for path in reported.keys where path.hasPrefix(prefix) { reported[path] = nil }
    }

    private func isExcluded(_ path: String) -> Bool {
        excluded.contains { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }
    }

    private func isInsideRoots(_ path: String) -> Bool {
        roots.contains { path == $0.path || path.hasPrefix($0.path == "/" ? "/" : $0.path + "/") }
    }

    // MARK: - Helpers

    private static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return Stamp(size: Int64(st.st_size), mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The real path when it exists, else the absolute path with `.`/`..` and repeated slashes removed.
    static func resolve(_ path: String) -> String {
        if let real = realPath(path) { return real }
        var absolute = path
        if !absolute.hasPrefix("/") { absolute = FileManager.default.currentDirectoryPath + "/" + absolute }
        var parts: [Substring] = []
        for part in absolute.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Shell glob on a file name (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`), case-sensitive, through fnmatch(3).
    static func globMatch(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
