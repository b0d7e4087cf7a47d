import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The watcher's second line of defence: rescans of every root (periodic, after an overflow, after a root came back)
// and the polling of roots that are gone, then walking and classifying folders (FolderWatcher.swift has the thread
// and the inotify events).

extension FolderWatcher {
    // MARK: - Rescans and watch roots (lock held unless said otherwise)

    /// Every root walked again: complete files not yet reported are reported, the others go pending.
    func rescanLocked() -> [CandidateFile] {
        var out: [CandidateFile] = []
        for (i, root) in roots.enumerated() where rootIdentity[i] != nil && !isExcluded(root.path) {
            out += walkLocked(root.path, root: i, mode: .rescan)
        }
        return out
    }

    /// The periodic rescan (lock not held): the roots checked first, so one that came back is walked as such, then
    /// every root walked; stale bookkeeping is dropped.
    func periodicRescan() -> [CandidateFile] {
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
    func isRootLocked(_ dir: String) -> Bool {
        roots.contains { $0.path == dir } && !isExcluded(dir)
    }

    /// A root's watch is gone (the folder deleted, moved away, unmounted, or the watch dropped): its watches go, and
    /// the root poll runs at once to report what is there now (perhaps already another folder: deleted and re-created
    /// before these events were read).
    func rootLostLocked(_ path: String, why: String) -> [CandidateFile] {
        forgetTreeLocked(path, removeWatches: true, keepReported: true)
        for i in roots.indices where roots[i].path == path { rootLostReason[i] = why }
        return pollRootsLocked()
    }

    func rootStateLocked(_ i: Int) -> RootState {
        guard let identity = rootIdentity[i] else { return .missing }
        return rootMountedOnce[i] && !identity.mountPoint ? .bareMountPoint : .present
    }

    /// Compares each root path with the folder last seen there. A root that disappeared (or whose file system was
    /// unmounted) is forgotten and reported; one that appeared, or was replaced by another folder (re-created, mounted
    /// over), is reported, watched again and walked, its complete files reported. Roots inside a changed one, and
    /// roots that lost their watch, are walked again too.
    func pollRootsLocked() -> [CandidateFile] {
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

    func rootChangeProblem(_ path: String, before: RootState, after: RootState, why: String?) -> WatcherProblem {
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
    func walkLocked(_ top: String, root i: Int, mode: WalkMode) -> [CandidateFile] {
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
    func addWatchLocked(_ dir: String) {
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

    func watchFailureMessage(_ dir: String, _ e: Int32) -> String {
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
    func classifyLocked(dir: String, name: String, roots covering: Set<Int>) -> Entry {
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
    func reportLocked(_ path: String, _ stamp: Stamp) -> CandidateFile? {
        pending[path] = nil
        if reported[path] == stamp { return nil }
        reported[path] = stamp
        return CandidateFile(path: path, size: stamp.size, mtime: stamp.mtime)
    }

    /// Drops the watches and bookkeeping of a folder and everything under it. `keepReported`: for a watch root that
    /// went away, what was reported is kept, so that files still the same (size and mtime) when it comes back
    /// (moved back, re-mounted) are not reported twice; stale entries go at the next periodic rescan.
    func forgetTreeLocked(_ top: String, removeWatches: Bool, keepReported: Bool = false) {
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

    func isExcluded(_ path: String) -> Bool {
        excluded.contains { FolderWatcher.isWithin(path, $0) }
    }

    func isInsideRoots(_ path: String) -> Bool {
        roots.contains { FolderWatcher.isWithin(path, $0.path) }
    }

    // MARK: - Helpers

    /// Size and mtime of a regular file, from `lstat` (nothing is opened; a symlink, FIFO, socket or device is nil).
    static func stamp(_ path: String) -> Stamp? {
        guard let st = RegularFile.metadata(path: path) else { return nil }
        return Stamp(size: Int64(st.st_size), mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// Device and inode of the folder at `path` (not following a symlink), or nil when it is not a folder.
    static func folderIdentity(_ path: String) -> FolderIdentity? {
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
    static func isWithin(_ path: String, _ top: String) -> Bool {
        path == top || path.hasPrefix(top == "/" ? "/" : top + "/")
    }

    static func realPath(_ path: String) -> String? {
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

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    /// Shell glob on a file name (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`), case-sensitive, through fnmatch(3).
    static func globMatch(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
