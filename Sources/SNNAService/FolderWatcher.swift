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
    struct Root {
        var path: String
        var recursive: Bool
        var patterns: [String]
    }
    struct Stamp: Equatable {
        var size: Int64
        var mtime: Double
    }
    struct Pending {
        var stamp: Stamp
        /// Monotonic time when this stamp was first seen.
        var since: Double
        /// Found by a rescan rather than an event (counted in `filesFoundByRescan` once reported).
        var foundByRescan = false
    }
    /// Which folder a path is: a re-created or re-mounted folder at the same path has another one.
    struct FolderIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        /// On another device than its parent folder: a file system is mounted there.
        var mountPoint: Bool
    }
    /// What a watch root path holds, for the problems reported when it changes.
    enum RootState {
        case missing
        /// A mount point whose file system was unmounted (it was seen mounted before): the folder underneath.
        case bareMountPoint
        case present
    }
    enum Entry {
        case file(String)
        case dir(String)
        case none
    }
    enum WalkMode {
        /// scan(): quiet files are returned, others go pending.
        case scan
        /// start(): quiet files are left to scan(), others go pending.
        case initial
        /// A new folder or a root that came back: quiet files not yet reported are reported, others go pending.
        case report
        /// A periodic rescan or one after an overflow: as `report`, and what it finds is counted as missed by inotify.
        case rescan
    }

    let roots: [Root]
    let excluded: [String]
    public let quietPeriod: Double
    /// Seconds between two walks of every watch root that report what inotify missed (0 or less: none).
    public let rescanInterval: Double
    /// Seconds between two checks that every watch root is still the folder being watched.
    public let rootPollInterval: Double
    let pollInterval: Double

    let lock = NSLock()
    // Everything below is guarded by `lock`.
    var inotifyFD: Int32 = -1
    var wakeFD: Int32 = -1
    var wakeWriteFD: Int32 = -1
    var started = false
    var stopped = false
    var threadRunning = false
    var watcherThread: pthread_t?
    let finished = DispatchSemaphore(value: 0)
    var wdToDir: [Int32: String] = [:]
    var dirToWd: [String: Int32] = [:]
    /// Real folder path → indices of the roots that cover it.
    var dirRoots: [String: Set<Int>] = [:]
    var pending: [String: Pending] = [:]
    var reported: [String: Stamp] = [:]
    /// The folder each root path was when last seen (nil: missing), by root index.
    var rootIdentity: [FolderIdentity?]
    /// Whether a file system was ever seen mounted at each root, so that its unmounted mount point counts as missing.
    var rootMountedOnce: [Bool]
    /// Why a root's watch was lost, from its inotify events, for the next root poll's report.
    var rootLostReason: [String?]
    /// Folders walked whose watch could not be added; the periodic rescan retries them.
    var unwatched: Set<String> = []
    /// Problems waiting to be handed to `onProblem` on the watcher thread.
    var problems: [WatcherProblem] = []
    var totals = WatcherCounters()
    var watchLimit: Int?
    var dropEvents = false

    // inotify constants (sys/inotify.h), spelled out to avoid importer surprises.
    static let inModify: UInt32 = 0x0000_0002
    /// How long a file closed after writing (or moved in) must see no further write before it is complete.
    static let closeSettle: Double = 0.25
    static let inAttrib: UInt32 = 0x0000_0004
    static let inCloseWrite: UInt32 = 0x0000_0008
    static let inMovedFrom: UInt32 = 0x0000_0040
    static let inMovedTo: UInt32 = 0x0000_0080
    static let inCreate: UInt32 = 0x0000_0100
    static let inDelete: UInt32 = 0x0000_0200
    static let inDeleteSelf: UInt32 = 0x0000_0400
    static let inMoveSelf: UInt32 = 0x0000_0800
    static let inUnmount: UInt32 = 0x0000_2000
    static let inQOverflow: UInt32 = 0x0000_4000
    static let inIgnored: UInt32 = 0x0000_8000
    static let inOnlyDir: UInt32 = 0x0100_0000
    static let inDontFollow: UInt32 = 0x0200_0000
    static let inExclUnlink: UInt32 = 0x0400_0000
    static let inIsDir: UInt32 = 0x4000_0000
    static let watchMask: UInt32 = inModify | inAttrib | inCloseWrite | inMovedFrom | inMovedTo | inCreate
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

    func run(ready: @Sendable (CandidateFile) -> Void, onProblem: @Sendable (WatcherProblem) -> Void,
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
}
