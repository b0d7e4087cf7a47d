import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The watcher thread's inotify side: reading and decoding events, deciding when a file is complete (closed or moved
// in and settled, or quiet), and delivering what it found (FolderWatcher.swift has the loop that calls these).

extension FolderWatcher {
    func readEvents(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ size: Int) -> ([CandidateFile], String?) {
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
    func deliver(_ files: [CandidateFile], onProblem: @Sendable (WatcherProblem) -> Void,
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

    func isStopped() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func signalWake() {
        lock.lock()
        let wfd = wakeWriteFD
        if wfd >= 0 {
            var one: UInt8 = 1
            _ = write(wfd, &one, 1)  // a full pipe (EAGAIN) already means "wake up"
        }
        lock.unlock()
    }

    func handleEvents(_ buffer: UnsafeMutableRawPointer, count: Int) -> [CandidateFile] {
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

    func checkPending(now: Double) -> [CandidateFile] {
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
}
