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
/// `quietPeriod` seconds. Empty files are never reported. Hidden entries (name starting with '.'), the excluded folders,
/// anything but regular files (FIFOs, sockets, devices) and symlinks whose real path is outside every watch folder are
/// ignored. Paths are reported as real paths. Candidate files are never opened, only `lstat`ed.
///
/// The watcher does not go blind quietly:
/// - a folder whose watch cannot be added (ENOSPC, EACCES) is reported through `onProblem`, counted in
///   `counters.watchFailures`, and still scanned by the periodic rescan, which retries the watch;
/// - every `rescanInterval` seconds each watch root is walked again and complete files no event reported are reported
///   (an overflowed event queue triggers the same walk at once);
/// - a watch root that is deleted, moved away, unmounted or replaced is noticed (its inotify events, and an `lstat`
///   of every root each `rootPollInterval` seconds comparing device and inode with those watched), reported, and
///   watched again when it exists again (re-created, moved back, mounted), its complete files reported then (those
///   reported before and unchanged in size and mtime are not reported twice);
/// - if the thread cannot go on (the inotify descriptor fails), `onFatal` is called so the owner can exit and be
///   restarted, rather than run on without eyes.
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
        /// Found by a rescan rather than an event (counted in `filesFoundByRescan` once reported).
        var foundByRescan = false
    }
    /// Which folder a path is: a re-created or re-mounted folder at the same path has another one.
    private struct FolderIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        /// On another device than its parent folder: a file system is mounted there.
        var mountPoint: Bool
    }
    /// What a watch root path holds, for the problems reported when it changes.
    private enum RootState {
        case missing
        /// A mount point whose file system was unmounted (it was seen mounted before): the folder underneath.
        case bareMountPoint
        case present
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
        /// A new folder or a root that came back: quiet files not yet reported are reported, others go pending.
        case report
        /// A periodic rescan or one after an overflow: as `report`, and what it finds is counted as missed by inotify.
        case rescan
    }

    private let roots: [Root]
    private let excluded: [String]
    public let quietPeriod: Double
    /// Seconds between two walks of every watch root that report what inotify missed (0 or less: none).
    public let rescanInterval: Double
    /// Seconds between two checks that every watch root is still the folder being watched.
    public let rootPollInterval: Double
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
    /// The folder each root path was when last seen (nil: missing), by root index.
    private var rootIdentity: [FolderIdentity?]
    /// Whether a file system was ever seen mounted at each root, so that its unmounted mount point counts as missing.
    private var rootMountedOnce: [Bool]
    /// Why a root's watch was lost, from its inotify events, for the next root poll's report.
    private var rootLostReason: [String?]
    /// Folders walked whose watch could not be added; the periodic rescan retries them.
    private var unwatched: Set<String> = []
    /// Problems waiting to be handed to `onProblem` on the watcher thread.
    private var problems: [WatcherProblem] = []
    private var totals = WatcherCounters()
    private var watchLimit: Int?
    private var dropEvents = false

    // inotify constants (sys/inotify.h), spelled out to avoid importer surprises.
    private static let inModify: UInt32 = 0x0000_0002
    /// How long a file closed after writing (or moved in) must see no further write before it is complete.
    static let closeSettle: Double = 0.25
    private static let inAttrib: UInt32 = 0x0000_0004
    private static let inCloseWrite: UInt32 = 0x0000_0008
    private static let inMovedFrom: UInt32 = 0x0000_0040
    private static let inMovedTo: UInt32 = 0x0000_0080
    private static let inCreate: UInt32 = 0x0000_0100
    private static let inDelete: UInt32 = 0x0000_0200
    private static let inDeleteSelf: UInt32 = 0x0000_0400
    private static let inMoveSelf: UInt32 = 0x0000_0800
    private static let inUnmount: UInt32 = 0x0000_2000
    private static let inQOverflow: UInt32 = 0x0000_4000
    private static let inIgnored: UInt32 = 0x0000_8000
    private static let inOnlyDir: UInt32 = 0x0100_0000
    private static let inDontFollow: UInt32 = 0x0200_0000
    private static let inExclUnlink: UInt32 = 0x0400_0000
    private static let inIsDir: UInt32 = 0x4000_0000
    private static let watchMask: UInt32 = inModify | inAttrib | inCloseWrite | inMovedFrom | inMovedTo | inCreate
        | inDelete | inDeleteSelf | inMoveSelf | inOnlyDir | inDontFollow | inExclUnlink

    /// `excluded`: folders never watched or reported (the service's output and state folders), even when inside a
    /// watch folder. `rescanInterval`: seconds between rescans of every watch folder (the `rescan_interval` key; 0 or
    /// less turns them off). `rootPollInterval`: seconds between checks that the watch roots are still there.
    public init(folders: [ServiceConfig.WatchFolder], excluded: [String], quietPeriod: Double,
                rescanInterval: Double = 600, rootPollInterval: Double = 5) {
        roots = folders.map {
            Root(path: FolderWatcher.resolve($0.path), recursive: $0.recursive, patterns: $0.patterns)
        }
        self.excluded = excluded.filter { !$0.isEmpty }.map { FolderWatcher.resolve($0) }
        self.quietPeriod = max(0, quietPeriod)
        self.rescanInterval = rescanInterval > 0 ? rescanInterval : 0
        self.rootPollInterval = max(0.05, rootPollInterval)
        pollInterval = min(2.0, max(0.25, quietPeriod / 4))
        rootIdentity = Array(repeating: nil, count: folders.count)
        rootMountedOnce = Array(repeating: false, count: folders.count)
        rootLostReason = Array(repeating: nil, count: folders.count)
    }

    deinit {
        if inotifyFD >= 0 { close(inotifyFD) }
        if wakeFD >= 0 { close(wakeFD) }
        if wakeWriteFD >= 0 { close(wakeWriteFD) }
    }

    // MARK: - Public API

    /// Starts inotify on every watch folder (and, when recursive, every subfolder, including ones created later) on its
    /// own thread, and calls `ready` (on that thread) once per complete file.
    ///
    /// `onProblem` is called on the same thread for each `WatcherProblem` (log it). `onFatal` is called once, on that
    /// thread, when the watcher cannot go on (it has stopped watching; `scan()` still works): the owner should exit
    /// non-zero so that it is restarted. Without `onFatal` the process stops with `fatalError`, because a daemon that
    /// runs on without its watcher is worse than one that is restarted.
    ///
    /// Throws when a watch root does not exist or is not a folder (a configuration error), or inotify cannot be set
    /// up at all. A folder whose watch cannot be added does not throw: it goes to `onProblem`.
    public func start(ready: @escaping @Sendable (CandidateFile) -> Void,
                      onProblem: @escaping @Sendable (WatcherProblem) -> Void = { _ in },
                      onFatal: (@Sendable (String) -> Void)? = nil) throws {
        lock.lock()
        defer { lock.unlock() }
        if started { throw FolderWatcherError(description: "folder watcher already started") }
        if stopped { throw FolderWatcherError(description: "folder watcher was stopped") }
        for root in roots where !isExcluded(root.path) {
            var st = stat()
            if lstat(root.path, &st) != 0 {
                throw FolderWatcherError(description: "cannot watch \(root.path): \(FolderWatcher.errorText(errno))")
            }
            if st.st_mode & S_IFMT != S_IFDIR {
                throw FolderWatcherError(description: "cannot watch \(root.path): \(RegularFile.kindName(st.st_mode)), not a folder")
            }
        }
        let fd = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        if fd < 0 { throw FolderWatcherError(description: "inotify_init1: \(FolderWatcher.errorText(errno))") }
        // A self-pipe wakes the thread (stop, or new pending files from scan()).
        var pipeFDs: [Int32] = [-1, -1]
        if pipe(&pipeFDs) != 0 {
            let e = errno
            close(fd)
            throw FolderWatcherError(description: "pipe: \(FolderWatcher.errorText(e))")
        }
        for p in pipeFDs {
            _ = fcntl(p, F_SETFD, FD_CLOEXEC)
            _ = fcntl(p, F_SETFL, fcntl(p, F_GETFL) | O_NONBLOCK)
        }
        inotifyFD = fd
        wakeFD = pipeFDs[0]
        wakeWriteFD = pipeFDs[1]
        for (i, root) in roots.enumerated() where !isExcluded(root.path) {
            rootIdentity[i] = FolderWatcher.folderIdentity(root.path)
            rootMountedOnce[i] = rootIdentity[i]?.mountPoint == true
            _ = walkLocked(root.path, root: i, mode: .initial)
        }
        started = true
        threadRunning = true
        let thread = Thread { [self] in self.run(ready: ready, onProblem: onProblem, onFatal: onFatal) }
        thread.name = "snna-watcher"
        thread.start()
    }

    /// Every matching complete file now under the watch folders: regular files whose mtime is at least `quietPeriod`
    /// old. Files that are not yet quiet are put on the pending list so start()'s thread reports them later.
    public func scan() -> [CandidateFile] {
        lock.lock()
        var found: [CandidateFile] = []
        // Once started, a root that is gone is left to the thread's root poll, which watches it again when it is back.
        for (i, root) in roots.enumerated() where !started || rootIdentity[i] != nil {
            found += walkLocked(root.path, root: i, mode: .scan)
        }
        let wake = (!pending.isEmpty || !problems.isEmpty) && threadRunning
        lock.unlock()
        if wake { signalWake() }
        var seen = Set<String>()
        return found.filter { seen.insert($0.path).inserted }.sorted { $0.path < $1.path }
    }

    /// The watcher's health now (for /metrics).
    public var counters: WatcherCounters {
        lock.lock()
        defer { lock.unlock() }
        var now = totals
        now.unwatchedFolders = unwatched.count
        now.missingRoots = Set(roots.indices.filter { rootStateLocked($0) != .present && !isExcluded(roots[$0].path) }
            .map { roots[$0].path }).count
        if !started { now.missingRoots = 0 }  // nothing was looked at yet
        return now
    }

    /// Failed `inotify_add_watch` calls so far (`counters.watchFailures`).
    public var watchFailures: Int { counters.watchFailures }

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

    private func run(ready: @Sendable (CandidateFile) -> Void, onProblem: @Sendable (WatcherProblem) -> Void,
                     onFatal: (@Sendable (String) -> Void)?) {
        lock.lock()
        watcherThread = pthread_self()
        let fd = inotifyFD
        let efd = wakeFD
        lock.unlock()

        let bufSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        let begin = FolderWatcher.monotonic()
        var nextCheck = begin + pollInterval
        var nextRootPoll = begin + rootPollInterval
        var nextRescan = rescanInterval > 0 ? begin + rescanInterval : Double.infinity
        var failure: String?

        deliver([], onProblem: onProblem, ready: ready)  // what start() found (folders it could not watch)
        while failure == nil {
            lock.lock()
            let stopNow = stopped
            let hasPending = !pending.isEmpty
            // A file closed or moved in is due after a short settle, sooner than the next regular check.
            let firstDue = pending.values.map { $0.since + quietPeriod }.min() ?? .infinity
            lock.unlock()
            if stopNow { break }
            if firstDue < nextCheck { nextCheck = max(firstDue, FolderWatcher.monotonic()) }

            var deadline = min(nextRootPoll, nextRescan)
            if hasPending { deadline = min(deadline, nextCheck) }
            let left = min(3600, max(0, deadline - FolderWatcher.monotonic()))
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: efd, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, Int32((left * 1000).rounded(.up)))
            if n < 0 {
                let e = errno
                if e != EINTR { failure = "poll on the inotify descriptor failed: \(FolderWatcher.errorText(e))" }
                continue
            }

            var out: [CandidateFile] = []
            if n > 0 && fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(efd, &drain, drain.count) > 0 {}
            }
            if n > 0 && fds[0].revents != 0 {
                if fds[0].revents & Int16(POLLIN) == 0 {
                    failure = "the inotify descriptor failed (poll revents 0x\(String(fds[0].revents, radix: 16)))"
                } else {
                    let (events, error) = readEvents(fd, buffer, bufSize)
                    out += events
                    failure = error
                }
            }
            if failure == nil {
                let now = FolderWatcher.monotonic()
                if now >= nextCheck {
                    out += checkPending(now: now)
                    nextCheck = now + pollInterval
                } else if !hasPending {
                    nextCheck = now + pollInterval
                }
                if now >= nextRootPoll {
                    lock.lock()
                    out += pollRootsLocked()
                    lock.unlock()
                    nextRootPoll = FolderWatcher.monotonic() + rootPollInterval
                }
                if now >= nextRescan {
                    out += periodicRescan()
                    // From the end of this one: a walk longer than the interval must not run back to back.
                    nextRescan = FolderWatcher.monotonic() + rescanInterval
                }
            }
            deliver(out, onProblem: onProblem, ready: ready)
        }

        lock.lock()
        close(fd)
        close(efd)
        close(wakeWriteFD)
        inotifyFD = -1
        wakeFD = -1
        wakeWriteFD = -1
        threadRunning = false
        let stopping = stopped
        lock.unlock()
        finished.signal()
        // A failure while stopping is no news; otherwise the owner must know its watcher is gone.
        if let failure, !stopping {
            let message = "folder watcher stopped: \(failure)"
            if let onFatal { onFatal(message) } else { fatalError(message) }
        }
    }

    /// Reads every queued event batch. Returns the files they complete and, when reading failed for good, why.
    private func readEvents(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ size: Int) -> ([CandidateFile], String?) {
        var out: [CandidateFile] = []
        while true {
            let got = read(fd, buffer, size)
            if got > 0 {
                lock.lock()
                let drop = dropEvents
                lock.unlock()
                if !drop { out += handleEvents(buffer, count: got) }
                continue
            }
            if got == 0 { return (out, nil) }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return (out, nil) }
            return (out, "reading the inotify descriptor failed: \(FolderWatcher.errorText(e))")
        }
    }

    /// Hands the queued problems, then the files, to the owner (outside the lock), unless stopping.
    private func deliver(_ files: [CandidateFile], onProblem: @Sendable (WatcherProblem) -> Void,
                         ready: @Sendable (CandidateFile) -> Void) {
        lock.lock()
        let queued = problems
        problems = []
        lock.unlock()
        for problem in queued {
            if isStopped() { return }
            onProblem(problem)
        }
        for file in files {
            if isStopped() { return }
            ready(file)
        }
    }

    private func isStopped() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
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
                totals.overflows += 1
                problems.append(WatcherProblem(
                    kind: .eventsOverflowed, folder: nil,
                    message: "inotify event queue overflowed (fs.inotify.max_queued_events): events were lost; "
                        + "rescanning every watch folder"))
                out += pollRootsLocked()  // a root may have been replaced among the lost events
                out += rescanLocked()
                continue
            }
            if mask & FolderWatcher.inIgnored != 0 {
                // Sent when a watch is gone: after one we removed (no longer mapped), or when the kernel dropped it.
                guard let dir = wdToDir[event.wd] else { continue }
                if isRootLocked(dir) {
                    out += rootLostLocked(dir, why: "its watch was dropped by the kernel")
                } else {
                    wdToDir[event.wd] = nil
                    if dirToWd[dir] == event.wd {
                        dirToWd[dir] = nil
                        dirRoots[dir] = nil
                    }
                }
                continue
            }
            guard let dir = wdToDir[event.wd] else { continue }
            if name.isEmpty {
                // Events on the folder itself: deleted, moved or unmounted. Its watches must go (a moved folder's
                // events would carry its old path); a root is then polled for until it comes back, a subfolder is
                // picked up again by its parent's events or the next rescan.
                let lost = FolderWatcher.inDeleteSelf | FolderWatcher.inMoveSelf | FolderWatcher.inUnmount
                guard mask & lost != 0 else { continue }
                if isRootLocked(dir) {
                    let why = mask & FolderWatcher.inUnmount != 0 ? "its file system was unmounted"
                        : mask & FolderWatcher.inMoveSelf != 0 ? "it was moved away" : "it was deleted"
                    out += rootLostLocked(dir, why: why)
                } else {
                    forgetTreeLocked(dir, removeWatches: true)
                }
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
                    // Checked again now, not trusted from the event: the file may have been replaced (by a FIFO,
                    // say) since it was closed.
                    guard let stamp = FolderWatcher.stamp(real) else {
                        pending[real] = nil
                        continue
                    }
                    if stamp.size == 0 {
                        pending[real] = nil  // an empty file is never complete; a later write brings it back
                        continue
                    }
                    // Closed after writing or moved into place — but it may have been opened again since (created
                    // empty or moved in empty, then written: `touch` then append). Complete once no write follows
                    // for a moment: a write event after it puts the file back under the quiet period.
                    let settle = min(FolderWatcher.closeSettle, quietPeriod)
                    pending[real] = Pending(stamp: stamp, since: FolderWatcher.monotonic() - quietPeriod + settle,
                                            foundByRescan: false)
                } else if mask & FolderWatcher.inModify != 0, let entry = pending[real], let stamp = FolderWatcher.stamp(real) {
                    // Written again while waiting: the quiet period starts over.
                    pending[real] = Pending(stamp: stamp, since: FolderWatcher.monotonic(), foundByRescan: entry.foundByRescan)
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
                pending[path] = nil  // deleted (or no longer a regular file) before it was reported
                continue
            }
            if stamp != entry.stamp {
                pending[path] = Pending(stamp: stamp, since: now, foundByRescan: entry.foundByRescan)
            } else if now - entry.since >= quietPeriod {
                pending[path] = nil
                if stamp.size > 0, let file = reportLocked(path, stamp) {
                    if entry.foundByRescan { totals.filesFoundByRescan += 1 }
                    out.append(file)
                }
            }
        }
        return out
    }

    // MARK: - Rescans and watch roots (lock held unless said otherwise)

    /// Every root walked again: complete files not yet reported are reported, the others go pending.
    private func rescanLocked() -> [CandidateFile] {
        var out: [CandidateFile] = []
        for (i, root) in roots.enumerated() where rootIdentity[i] != nil && !isExcluded(root.path) {
            out += walkLocked(root.path, root: i, mode: .rescan)
        }
        return out
    }

    /// The periodic rescan (lock not held): the roots checked first, so one that came back is walked as such, then
    /// every root walked; stale bookkeeping is dropped.
    private func periodicRescan() -> [CandidateFile] {
        lock.lock()
        defer { lock.unlock() }
        var out = pollRootsLocked()
        for path in reported.keys where FolderWatcher.stamp(path) == nil { reported[path] = nil }
        for dir in unwatched where FolderWatcher.folderIdentity(dir) == nil { unwatched.remove(dir) }
        out += rescanLocked()
        totals.rescans += 1
        return out
    }

    /// Whether `dir` is a watch root (not excluded).
    private func isRootLocked(_ dir: String) -> Bool {
        roots.contains { $0.path == dir } && !isExcluded(dir)
    }

    /// A root's watch is gone (the folder deleted, moved away, unmounted, or the watch dropped): its watches go, and
    /// the root poll runs at once to report what is there now (perhaps already another folder: deleted and re-created
    /// before these events were read).
    private func rootLostLocked(_ path: String, why: String) -> [CandidateFile] {
        forgetTreeLocked(path, removeWatches: true, keepReported: true)
        for i in roots.indices where roots[i].path == path { rootLostReason[i] = why }
        return pollRootsLocked()
    }

    private func rootStateLocked(_ i: Int) -> RootState {
        guard let identity = rootIdentity[i] else { return .missing }
        return rootMountedOnce[i] && !identity.mountPoint ? .bareMountPoint : .present
    }

    /// Compares each root path with the folder last seen there. A root that disappeared (or whose file system was
    /// unmounted) is forgotten and reported; one that appeared, or was replaced by another folder (re-created, mounted
    /// over), is reported, watched again and walked, its complete files reported. Roots inside a changed one, and
    /// roots that lost their watch, are walked again too.
    private func pollRootsLocked() -> [CandidateFile] {
        var changed: [String] = []
        for i in roots.indices where !isExcluded(roots[i].path) {
            let path = roots[i].path
            let now = FolderWatcher.folderIdentity(path)
            let why = rootLostReason[i]
            rootLostReason[i] = nil
            if now == rootIdentity[i] { continue }  // (moved away and back: re-walked below as a root without watch)
            let before = rootStateLocked(i)
            rootIdentity[i] = now
            if now?.mountPoint == true { rootMountedOnce[i] = true }
            let after = rootStateLocked(i)
            if changed.contains(path) { continue }  // the same path listed twice (other patterns)
            changed.append(path)
            forgetTreeLocked(path, removeWatches: true, keepReported: true)
            problems.append(rootChangeProblem(path, before: before, after: after, why: why))
        }
        var toWalk: [String] = []
        for i in roots.indices where rootIdentity[i] != nil && !isExcluded(roots[i].path) {
            let path = roots[i].path
            let touched = changed.contains { FolderWatcher.isWithin(path, $0) }
            // A root without a watch that is not a known failure lost it some other way (its watch dropped by the
            // kernel, or forgotten with a root around it): walk it now rather than wait for the rescan.
            let lostWatch = dirToWd[path] == nil && !unwatched.contains(path) && inotifyFD >= 0
            if (touched || lostWatch) && !toWalk.contains(path) { toWalk.append(path) }
        }
        var out: [CandidateFile] = []
        for path in toWalk {
            // Every root covering this folder, so each one's patterns apply to its files again.
            for k in roots.indices where roots[k].path == path || (roots[k].recursive && FolderWatcher.isWithin(path, roots[k].path)) {
                if rootIdentity[k] != nil { out += walkLocked(path, root: k, mode: .report) }
            }
        }
        return out
    }

    private func rootChangeProblem(_ path: String, before: RootState, after: RootState, why: String?) -> WatcherProblem {
        let every = FolderWatcher.seconds(rootPollInterval)
        switch (before, after) {
        case (_, .missing):
            let reason = why.map { " (\($0))" } ?? ""
            return WatcherProblem(kind: .rootGone, folder: path,
                                  message: "watch root \(path) is gone\(reason); checking for it every \(every)")
        case (.present, .bareMountPoint):
            return WatcherProblem(
                kind: .rootGone, folder: path,
                message: "watch root \(path): its file system was unmounted; the mount point is watched meanwhile, "
                    + "and checked every \(every) for a file system mounted there again")
        case (.missing, _):
            return WatcherProblem(kind: .rootBack, folder: path, message: "watch root \(path) is back; watching it again")
        case (.bareMountPoint, .present):
            return WatcherProblem(kind: .rootBack, folder: path,
                                  message: "watch root \(path): a file system is mounted there again; watching it")
        default:
            return WatcherProblem(
                kind: .rootBack, folder: path,
                message: "watch root \(path) was replaced by another folder (re-created or mounted over); watching the new one")
        }
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
            if inotifyFD >= 0 && !stopped && dirToWd[dir] == nil { addWatchLocked(dir) }
            dirRoots[dir, default: []].insert(i)
            guard let names = DirectoryEntries.names(in: dir) else { continue }
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
                        if pending[real]?.stamp != stamp {
                            // Already pending: an event saw it first. Not pending: only this rescan did.
                            let byRescan = pending[real]?.foundByRescan ?? (mode == .rescan)
                            pending[real] = Pending(stamp: stamp, since: monoNow, foundByRescan: byRescan)
                        }
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
                    case .rescan:
                        if let file = reportLocked(real, stamp) {
                            totals.filesFoundByRescan += 1
                            out.append(file)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Adds the watch on a folder. A failure is counted at each attempt and reported once until an attempt succeeds;
    /// the folder stays on the walk (the periodic rescan finds its files and retries the watch).
    private func addWatchLocked(_ dir: String) {
        var wd: Int32
        var e: Int32 = 0
        if let limit = watchLimit, dirToWd.count >= limit {
            wd = -1
            e = ENOSPC  // the kernel's answer at fs.inotify.max_user_watches, for the tests
        } else {
            wd = inotify_add_watch(inotifyFD, dir, FolderWatcher.watchMask)
            if wd < 0 { e = errno }
        }
        if wd < 0 {
            // Gone or replaced by a non-folder since it was checked: nothing there to watch, nothing to report.
            if e == ENOENT || e == ENOTDIR { return }
            totals.watchFailures += 1
            if unwatched.insert(dir).inserted {
                problems.append(WatcherProblem(kind: .watchFailed, folder: dir, errorNumber: e,
                                               message: watchFailureMessage(dir, e)))
            }
            return
        }
        if unwatched.remove(dir) != nil {
            problems.append(WatcherProblem(kind: .watchRestored, folder: dir,
                                           message: "watching \(dir) again (its watch had failed)"))
        }
        if let old = wdToDir[wd], old != dir {
            dirToWd[old] = nil
            dirRoots[old] = nil
        }
        wdToDir[wd] = dir
        dirToWd[dir] = wd
    }

    private func watchFailureMessage(_ dir: String, _ e: Int32) -> String {
        var text = "cannot watch \(dir): \(FolderWatcher.errorText(e))"
        switch e {
        case ENOSPC: text += " (the inotify watch limit fs.inotify.max_user_watches is reached; raise it with sysctl)"
        case EACCES: text += " (the service user cannot read this folder)"
        case ENOMEM: text += " (the kernel is out of memory for inotify watches)"
        default: break
        }
        if rescanInterval > 0 {
            text += "; its new files are found by the rescan every \(FolderWatcher.seconds(rescanInterval)), which retries the watch"
        } else {
            text += "; rescan_interval is 0, so its new files are found only by a reload"
        }
        return text
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
            return .none  // FIFOs, sockets, devices: never candidates
        }
    }

    /// Reports a file unless this exact version (size and mtime) was reported already.
    private func reportLocked(_ path: String, _ stamp: Stamp) -> CandidateFile? {
        pending[path] = nil
        if reported[path] == stamp { return nil }
        reported[path] = stamp
        return CandidateFile(path: path, size: stamp.size, mtime: stamp.mtime)
    }

    /// Drops the watches and bookkeeping of a folder and everything under it. `keepReported`: for a watch root that
    /// went away, what was reported is kept, so that files still the same (size and mtime) when it comes back
    /// (moved back, re-mounted) are not reported twice; stale entries go at the next periodic rescan.
    private func forgetTreeLocked(_ top: String, removeWatches: Bool, keepReported: Bool = false) {
        let prefix = top == "/" ? "/" : top + "/"
        for (dir, wd) in dirToWd where dir == top || dir.hasPrefix(prefix) {
            if removeWatches && inotifyFD >= 0 { _ = inotify_rm_watch(inotifyFD, wd) }
            dirToWd[dir] = nil
            if wdToDir[wd] == dir { wdToDir[wd] = nil }
        }
        for dir in dirRoots.keys where dir == top || dir.hasPrefix(prefix) { dirRoots[dir] = nil }
        for dir in unwatched where dir == top || dir.hasPrefix(prefix) { unwatched.remove(dir) }
        for path in pending.keys where path.hasPrefix(prefix) { pending[path] = nil }
        if !keepReported {
            for path in reported.keys where path.hasPrefix(prefix) { reported[path] = nil }
        }
    }

    private func isExcluded(_ path: String) -> Bool {
        excluded.contains { FolderWatcher.isWithin(path, $0) }
    }

    private func isInsideRoots(_ path: String) -> Bool {
        roots.contains { FolderWatcher.isWithin(path, $0.path) }
    }

    // MARK: - Test hooks (internal, for the tests only)

    /// Once this many watches are held, adding one more fails with ENOSPC, through the same handling as the kernel's
    /// ENOSPC at fs.inotify.max_user_watches (which cannot be lowered for one process). nil: no limit.
    var watchLimitForTesting: Int? {
        get { lock.lock(); defer { lock.unlock() }; return watchLimit }
        set { lock.lock(); watchLimit = newValue; lock.unlock() }
    }

    /// While true, the thread reads inotify events and throws them away, as if the kernel had lost them.
    var dropEventsForTesting: Bool {
        get { lock.lock(); defer { lock.unlock() }; return dropEvents }
        set { lock.lock(); dropEvents = newValue; lock.unlock() }
    }

    /// Makes the next read of the inotify descriptor fail (EISDIR): a directory is put in its place with dup2, so
    /// the descriptor number stays valid and cannot be reused by another open in between.
    func breakInotifyForTesting() {
        lock.lock()
        if inotifyFD >= 0 {
            let dirFD = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dirFD >= 0 {
                if dup2(dirFD, inotifyFD) >= 0 { _ = fcntl(inotifyFD, F_SETFD, FD_CLOEXEC) }
                close(dirFD)
            }
        }
        lock.unlock()
        signalWake()
    }

    // MARK: - Helpers

    /// Size and mtime of a regular file, from `lstat` (nothing is opened; a symlink, FIFO, socket or device is nil).
    private static func stamp(_ path: String) -> Stamp? {
        guard let st = RegularFile.metadata(path: path) else { return nil }
        return Stamp(size: Int64(st.st_size), mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// Device and inode of the folder at `path` (not following a symlink), or nil when it is not a folder.
    private static func folderIdentity(_ path: String) -> FolderIdentity? {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return nil }
        var mountPoint = path == "/"
        if let slash = path.lastIndex(of: "/"), path != "/" {
            let parent = slash == path.startIndex ? "/" : String(path[..<slash])
            var parentStat = stat()
            mountPoint = lstat(parent, &parentStat) == 0 && parentStat.st_dev != st.st_dev
        }
        return FolderIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), mountPoint: mountPoint)
    }

    /// Whether `path` is `top` or inside it.
    private static func isWithin(_ path: String, _ top: String) -> Bool {
        path == top || path.hasPrefix(top == "/" ? "/" : top + "/")
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

    private static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    /// Shell glob on a file name (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`), case-sensitive, through fnmatch(3).
    static func globMatch(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
