import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SNNAService

/// Collects reported files from the watcher thread.
private final class Reports: @unchecked Sendable {
    private let lock = NSLock()
    private var files: [(file: CandidateFile, at: Double)] = []

    func add(_ file: CandidateFile) {
        lock.lock(); files.append((file, now())); lock.unlock()
    }
    var all: [CandidateFile] {
        lock.lock(); defer { lock.unlock() }
        return files.map(\.file)
    }
    func count(_ path: String) -> Int { all.filter { $0.path == path }.count }
    func time(_ path: String) -> Double? {
        lock.lock(); defer { lock.unlock() }
        return files.first { $0.file.path == path }?.at
    }
    /// Waits until `path` was reported (true) or the timeout passed (false).
    func wait(_ path: String, timeout: Double) -> Bool {
        let end = now() + timeout
        while now() < end {
            if count(path) > 0 { return true }
            usleep(10_000)
        }
        return count(path) > 0
    }
}

/// Collects the watcher's problem reports.
private final class Problems: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [WatcherProblem] = []

    func add(_ problem: WatcherProblem) {
        lock.lock(); items.append(problem); lock.unlock()
    }
    var all: [WatcherProblem] {
        lock.lock(); defer { lock.unlock() }
        return items
    }
    func count(_ kind: WatcherProblem.Kind, _ folder: String?) -> Int {
        all.filter { $0.kind == kind && $0.folder == folder }.count
    }
    /// Waits until at least `times` problems of this kind about this folder arrived.
    func wait(_ kind: WatcherProblem.Kind, _ folder: String?, times: Int = 1, timeout: Double) -> Bool {
        let end = now() + timeout
        while now() < end {
            if count(kind, folder) >= times { return true }
            usleep(10_000)
        }
        return count(kind, folder) >= times
    }
}

/// Collects fatal reports.
private final class Fatals: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []

    func add(_ message: String) {
        lock.lock(); items.append(message); lock.unlock()
    }
    var all: [String] {
        lock.lock(); defer { lock.unlock() }
        return items
    }
    func wait(timeout: Double) -> Bool {
        let end = now() + timeout
        while now() < end {
            if !all.isEmpty { return true }
            usleep(10_000)
        }
        return !all.isEmpty
    }
}

/// Holds the watcher thread inside its `ready` callback, so events pile up in the kernel queue meanwhile.
private final class Gate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    /// Blocks the caller until `open()`, or 10 s at most (a broken test must not hang the suite).
    func pass() { _ = semaphore.wait(timeout: .now() + 10) }
    func open() { semaphore.signal() }
}

private func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func sleep(_ seconds: Double) { usleep(useconds_t(seconds * 1_000_000)) }

private func tempFolder() -> String {
    var template = Array("/tmp/snna-watch-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil)
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return FolderWatcher.resolve(path)
}

private func removeFolder(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// Writes a whole file with open/write/close (one IN_CLOSE_WRITE).
private func writeFile(_ path: String, bytes: Int = 1000) {
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
    precondition(fd >= 0, "open \(path)")
    let data = [UInt8](repeating: 7, count: bytes)
    _ = data.withUnsafeBytes { write(fd, $0.baseAddress, bytes) }
    close(fd)
}

/// Opens a new file for writing and wraps it in a FileHandle that closes on `close()`.
private func openHandle(_ path: String) -> FileHandle {
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
    precondition(fd >= 0, "open \(path)")
    return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
}

private func setOldMtime(_ path: String, age: Double = 3600) {
    let t = Date().timeIntervalSince1970 - age
    var times = [timeval(tv_sec: Int(t), tv_usec: 0), timeval(tv_sec: Int(t), tv_usec: 0)]
    _ = utimes(path, &times)
}

private func watcher(_ root: String, recursive: Bool = true, excluded: [String] = [], quiet: Double = 0.5,
                     patterns: [String] = ["*.mp4", "*.MP4", "*.ts"], rescan: Double = 600,
                     rootPoll: Double = 5) -> FolderWatcher {
    FolderWatcher(folders: [ServiceConfig.WatchFolder(path: root, recursive: recursive, patterns: patterns)],
                  excluded: excluded, quietPeriod: quiet, rescanInterval: rescan, rootPollInterval: rootPoll)
}

private func makeFolder(_ path: String) {
    precondition((try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)) != nil)
}

/// Whether some process has the FIFO open for reading (or waits in open() to): a non-blocking open for writing then
/// succeeds; with no reader it fails with ENXIO. Opening it also releases a reader stuck in a blocking open().
private func fifoHasReader(_ path: String) -> Bool {
    let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    if fd >= 0 {
        close(fd)
        return true
    }
    return false
}

/// Guards a test against a watcher that opens a FIFO. While watching, checks every 20 ms on its own thread whether
/// someone has the FIFO open for reading (or waits in open() on it), counts it, and releases such a reader. At the
/// end, `holdOpen()` keeps the FIFO open read-write, so a reader's open() never blocks and the watcher can be stopped:
/// a broken watcher fails the test instead of hanging it.
private final class FifoGuard: @unchecked Sendable {
    private let lock = NSLock()
    private var path: String?
    private var running = false
    private var seen = 0
    private var keeper: Int32 = -1
    private let finished = DispatchSemaphore(value: 0)

    func watch(_ fifo: String) {
        lock.lock()
        path = fifo
        running = true
        lock.unlock()
        Thread { [self] in
            while true {
                lock.lock()
                let go = running
                lock.unlock()
                if !go { break }
                if fifoHasReader(fifo) {
                    lock.lock(); seen += 1; lock.unlock()
                }
                usleep(20_000)
            }
            finished.signal()
        }.start()
    }

    /// Stops watching; returns how many times a reader was found.
    func stopWatching() -> Int {
        lock.lock()
        let wasRunning = running
        running = false
        lock.unlock()
        if wasRunning { finished.wait() }
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    /// Opens the FIFO read-write (which never blocks) and keeps it open until `close()`.
    func holdOpen() {
        lock.lock()
        let fifo = path
        lock.unlock()
        if let fifo { keeper = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC) }
        _ = stopWatching()
    }

    func close() {
        if keeper >= 0 { Glibc.close(keeper) }
        keeper = -1
    }
}

private let mntDetach: Int32 = 2  // MNT_DETACH (sys/mount.h)

/// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as in a privileged container): tried once on a
/// scratch folder.
private func tmpfsCanBeMounted() -> Bool {
    guard geteuid() == 0 else { return false }
    let scratch = tempFolder()
    defer { removeFolder(scratch) }
    guard mount("snna-test", scratch, "tmpfs", 0, nil) == 0 else { return false }
    return umount2(scratch, mntDetach) == 0
}

/// Binds a Unix socket at `path`; returns its descriptor (the caller closes it).
private func bindSocket(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in Array(path.utf8).prefix(raw.count - 1).enumerated() { raw[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    precondition(rc == 0, "bind \(path)")
    return fd
}

@Suite(.serialized) struct FolderWatcherTests {
    @Test func fileWrittenInChunksIsReportedOnceAfterClose() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 1.0)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        let path = root + "/20250101_120000_NF.mp4"
        let handle = openHandle(path)
        for _ in 0..<15 {
            handle.write(Data(repeating: 1, count: 4096))
            sleep(0.1)
        }
        #expect(reports.all.isEmpty, "reported before the close")
        let closedAt = now()
        try handle.close()
        #expect(reports.wait(path, timeout: 2))
        let latency = (reports.time(path) ?? 99) - closedAt
        #expect(latency < 0.7, "close to report: \(latency) s")  // a quiet-period report would take >= 0.9 s
        sleep(1.5)  // longer than the quiet period: no second report
        #expect(reports.count(path) == 1)
        #expect(reports.all.first?.size == Int64(15 * 4096))
        #expect(reports.all.count == 1)
    }

    @Test func fileRenamedIntoPlaceIsReportedAtOnce() throws {
        let root = tempFolder()
        let staging = tempFolder()
        defer { removeFolder(root); removeFolder(staging) }
        let w = watcher(root, quiet: 5)  // long quiet period: only the rename can explain a prompt report
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        writeFile(staging + "/clip.mp4", bytes: 5000)
        // A copy tool's temporary name inside the folder (hidden), then the rename.
        writeFile(root + "/.clip2.mp4.partial", bytes: 3000)
        let movedAt = now()
        #expect(rename(staging + "/clip.mp4", root + "/clip.mp4") == 0)
        #expect(rename(root + "/.clip2.mp4.partial", root + "/clip2.mp4") == 0)
        #expect(reports.wait(root + "/clip.mp4", timeout: 1))
        #expect(reports.wait(root + "/clip2.mp4", timeout: 1))
        #expect((reports.time(root + "/clip.mp4") ?? 99) - movedAt < 1.0)
        sleep(0.3)
        #expect(reports.all.count == 2)
        #expect(reports.all.first { $0.path == root + "/clip2.mp4" }?.size == 3000)
    }

    /// Created empty and closed (or moved in empty), then opened again and written in chunks: the close event is
    /// handled while the file is already being written again, so a re-stat at that moment sees data. It must be
    /// reported only after the writes stop, not at the first close (issue 14: a dashcam file taken half-written).
    @Test(arguments: [false, true])
    func fileWrittenAgainAfterAnEmptyCloseWaitsForTheWritesToStop(movedIn: Bool) throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 1.5)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }
        let path = root + "/clip.mp4"
        if movedIn {
            writeFile(root + "/.clip.tmp", bytes: 0)
            #expect(rename(root + "/.clip.tmp", path) == 0)
        } else {
            writeFile(path, bytes: 0)
        }
        let fd = open(path, O_WRONLY | O_APPEND)
        let chunk = [UInt8](repeating: 9, count: 4096)
        for _ in 0..<4 {
            _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            sleep(0.5)
            #expect(reports.all.isEmpty, "taken while still being written")
        }
        close(fd)
        #expect(reports.wait(path, timeout: 3))
        #expect(reports.all.count == 1 && reports.all.first?.size == 4 * 4096)
    }

    @Test func fileKeptOpenIsReportedAfterQuietPeriod() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        let path = root + "/remote.ts"
        let handle = openHandle(path)  // never closed before the end of the test (a writer on another machine)
        defer { try? handle.close() }
        handle.write(Data(repeating: 2, count: 1000))
        sleep(0.3)
        handle.write(Data(repeating: 3, count: 1000))
        let lastWrite = now()
        sleep(0.3)
        #expect(reports.all.isEmpty, "reported before the quiet period")
        #expect(reports.wait(path, timeout: 3))
        let delay = (reports.time(path) ?? 0) - lastWrite
        #expect(delay >= 0.45 && delay < 2.0, "last write to report: \(delay) s")
        #expect(reports.all.first?.size == 2000)
        sleep(0.8)
        #expect(reports.count(path) == 1)
    }

    @Test func ignoredFilesAreNeverReported() throws {
        let root = tempFolder()
        let outside = tempFolder()
        defer { removeFolder(root); removeFolder(outside) }
        let out = root + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        writeFile(outside + "/secret.mp4")
        setOldMtime(outside + "/secret.mp4")
        let w = watcher(root, excluded: [out])
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        writeFile(root + "/notes.txt")
        writeFile(root + "/clip.mp4.part")
        writeFile(root + "/.hidden.mp4")
        writeFile(out + "/result.mp4")
        try FileManager.default.createDirectory(atPath: out + "/deep", withIntermediateDirectories: true)
        writeFile(out + "/deep/result.mp4")
        #expect(symlink(outside + "/secret.mp4", root + "/link.mp4") == 0)
        #expect(symlink(outside, root + "/linkdir") == 0)
        try FileManager.default.createDirectory(atPath: root + "/.cache", withIntermediateDirectories: true)
        writeFile(root + "/.cache/x.mp4")
        writeFile(root + "/good.mp4")
        #expect(reports.wait(root + "/good.mp4", timeout: 2))
        sleep(1.2)  // more than twice the quiet period
        #expect(reports.all.map(\.path) == [root + "/good.mp4"])

        for path in [root + "/good.mp4", root + "/notes.txt", root + "/clip.mp4.part", root + "/.hidden.mp4", out + "/result.mp4",
                     out + "/deep/result.mp4", root + "/.cache/x.mp4"] {
            setOldMtime(path)
        }
        #expect(w.scan().map(\.path) == [root + "/good.mp4"])
    }

    @Test func symlinkInsideTheWatchFolderIsReportedByItsRealPath() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        writeFile(root + "/a/real.mp4")
        setOldMtime(root + "/a/real.mp4")
        #expect(symlink(root + "/a/real.mp4", root + "/alias.mp4") == 0)
        let w = watcher(root)
        #expect(w.scan().map(\.path) == [root + "/a/real.mp4"])
    }

    @Test func subfolderCreatedAfterStartIsWatched() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, recursive: true, quiet: 1.0)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        try FileManager.default.createDirectory(atPath: root + "/cam1/2025-01-01", withIntermediateDirectories: true)
        sleep(0.1)
        writeFile(root + "/cam1/2025-01-01/a.mp4")
        #expect(reports.wait(root + "/cam1/2025-01-01/a.mp4", timeout: 3))
        // A file written after the folder had been watched for a while is reported at once on close.
        writeFile(root + "/cam1/b.mp4")
        let t = now()
        #expect(reports.wait(root + "/cam1/b.mp4", timeout: 2))
        #expect((reports.time(root + "/cam1/b.mp4") ?? 99) - t < 0.7)
        // A folder moved in with its files.
        let staging = tempFolder()
        defer { removeFolder(staging) }
        writeFile(staging + "/c.mp4")
        #expect(rename(staging, root + "/moved") == 0)
        #expect(reports.wait(root + "/moved/c.mp4", timeout: 3))
        sleep(1.2)
        #expect(reports.all.count == 3)
    }

    @Test func nonRecursiveWatchIgnoresSubfolders() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/old", withIntermediateDirectories: true)
        writeFile(root + "/old/x.mp4")
        setOldMtime(root + "/old/x.mp4")
        let w = watcher(root, recursive: false)
        #expect(w.scan().isEmpty)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        writeFile(root + "/old/y.mp4")
        try FileManager.default.createDirectory(atPath: root + "/new", withIntermediateDirectories: true)
        sleep(0.1)
        writeFile(root + "/new/z.mp4")
        writeFile(root + "/top.mp4")
        #expect(reports.wait(root + "/top.mp4", timeout: 2))
        sleep(1.0)
        #expect(reports.all.map(\.path) == [root + "/top.mp4"])
    }

    @Test func scanFindsQuietFilesAndQueuesTheRest() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        writeFile(root + "/a.mp4", bytes: 10)
        writeFile(root + "/sub/b.MP4", bytes: 20)
        writeFile(root + "/fresh.mp4", bytes: 30)
        writeFile(root + "/empty.mp4", bytes: 0)
        writeFile(root + "/c.avi", bytes: 40)
        setOldMtime(root + "/a.mp4")
        setOldMtime(root + "/sub/b.MP4")
        setOldMtime(root + "/empty.mp4")
        setOldMtime(root + "/c.avi")
        let w = watcher(root, quiet: 0.5)
        let found = w.scan()
        #expect(found.map(\.path) == [root + "/a.mp4", root + "/sub/b.MP4"])
        #expect(found.map(\.size) == [10, 20])
        #expect(abs((found.first?.mtime ?? 0) - (Date().timeIntervalSince1970 - 3600)) < 5)

        // The fresh file was queued: start()'s thread reports it once it is quiet, and only it.
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }
        #expect(reports.wait(root + "/fresh.mp4", timeout: 3))
        sleep(0.8)
        #expect(reports.all.map(\.path) == [root + "/fresh.mp4"])
    }

    @Test func changedFileIsReportedAgainAndDeletedFileIsDropped() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5)
        let reports = Reports()
        try w.start { reports.add($0) }
        defer { w.stop() }

        let path = root + "/loop.mp4"
        writeFile(path, bytes: 100)
        #expect(reports.wait(path, timeout: 2))
        // Loop recording overwrites the file: a new version is a new report.
        sleep(0.05)
        writeFile(path, bytes: 200)
        let end = now() + 2
        while reports.count(path) < 2 && now() < end { usleep(10_000) }
        #expect(reports.count(path) == 2)
        #expect(reports.all.last?.size == 200)

        // Deleted while pending (kept open, never closed): disappears without a report.
        let gone = root + "/gone.mp4"
        let handle = openHandle(gone)
        handle.write(Data(repeating: 1, count: 100))
        sleep(0.1)
        unlink(gone)
        try handle.close()
        sleep(1.0)
        #expect(reports.count(gone) == 0)
        #expect(reports.all.count == 2)
    }

    @Test func stopIsPromptAndIdempotent() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let idle = watcher(root)
        idle.stop()  // never started
        idle.stop()

        let w = watcher(root, quiet: 8)
        let reports = Reports()
        try w.start { reports.add($0) }
        let handle = openHandle(root + "/pending.mp4")  // something pending, so the thread polls on a timer
        handle.write(Data(repeating: 1, count: 10))
        sleep(0.2)
        let t = now()
        w.stop()
        #expect(now() - t < 1)
        let t2 = now()
        w.stop()
        #expect(now() - t2 < 0.1)
        try handle.close()
        writeFile(root + "/after.mp4")
        sleep(0.3)
        #expect(reports.all.isEmpty)
        #expect(throws: FolderWatcherError.self) { try w.start { _ in } }
    }

    @Test func missingWatchFolderThrows() {
        let w = watcher("/nonexistent/snna-watch-test")
        #expect(throws: FolderWatcherError.self) { try w.start { _ in } }
        w.stop()
    }

    // MARK: - Never quietly blind (issue 14 §6)

    @Test func rootDeletedAndRecreatedIsWatchedAgain() throws {
        let parent = tempFolder()
        defer { removeFolder(parent) }
        let root = parent + "/cams"
        makeFolder(root)
        let w = watcher(root, quiet: 1.0, rootPoll: 0.2)
        let reports = Reports()
        let problems = Problems()
        let fatals = Fatals()
        try w.start(ready: { reports.add($0) }, onProblem: { problems.add($0) }, onFatal: { fatals.add($0) })
        defer { w.stop() }

        writeFile(root + "/a.mp4")
        #expect(reports.wait(root + "/a.mp4", timeout: 2))
        removeFolder(root)
        #expect(problems.wait(.rootGone, root, timeout: 2))
        #expect(w.counters.missingRoots == 1)

        // Re-created with files already in it (built elsewhere and renamed in, so they are there before the watcher
        // can see the folder): an old one, reported at once, a fresh one, reported once quiet, one in a subfolder.
        let staging = parent + "/staging"
        makeFolder(staging + "/sub")
        writeFile(staging + "/old.mp4")
        setOldMtime(staging + "/old.mp4")
        writeFile(staging + "/fresh.mp4", bytes: 2000)
        writeFile(staging + "/sub/deep.mp4")
        setOldMtime(staging + "/sub/deep.mp4")
        #expect(rename(staging, root) == 0)
        #expect(problems.wait(.rootBack, root, timeout: 2))
        #expect(w.counters.missingRoots == 0)
        #expect(reports.wait(root + "/old.mp4", timeout: 2))
        #expect(reports.wait(root + "/sub/deep.mp4", timeout: 2))
        #expect(reports.wait(root + "/fresh.mp4", timeout: 4))

        // Watched again, recursively: a file closed in it is reported at once (the quiet period is 1 s, the
        // rescan 600 s, so only an event explains it), and so is one in a subfolder created now.
        writeFile(root + "/after.mp4")
        let t = now()
        #expect(reports.wait(root + "/after.mp4", timeout: 2))
        #expect((reports.time(root + "/after.mp4") ?? 99) - t < 0.7)
        makeFolder(root + "/cam2")
        sleep(0.1)
        writeFile(root + "/cam2/new.mp4")
        #expect(reports.wait(root + "/cam2/new.mp4", timeout: 2))

        // Deleted and re-created in place with mkdir, files written at once (before or after the watcher sees
        // the folder again: reported either way), one a new a.mp4 of the same size as the first.
        removeFolder(root)
        #expect(problems.wait(.rootGone, root, times: 2, timeout: 2))
        makeFolder(root)
        writeFile(root + "/again.mp4")
        writeFile(root + "/a.mp4")
        #expect(problems.wait(.rootBack, root, times: 2, timeout: 2))
        #expect(reports.wait(root + "/again.mp4", timeout: 3))
        let end = now() + 3
        while reports.count(root + "/a.mp4") < 2 && now() < end { usleep(10_000) }
        writeFile(root + "/again2.mp4")
        #expect(reports.wait(root + "/again2.mp4", timeout: 2))

        sleep(1.2)
        #expect(reports.count(root + "/a.mp4") == 2)
        for path in ["/old.mp4", "/fresh.mp4", "/sub/deep.mp4", "/after.mp4", "/cam2/new.mp4", "/again.mp4",
                     "/again2.mp4"] {
            #expect(reports.count(root + path) == 1, "\(path) reported \(reports.count(root + path)) times")
        }
        #expect(fatals.all.isEmpty)
    }

    @Test func rootMovedAwayIsWatchedAgainWhenBack() throws {
        let parent = tempFolder()
        let elsewhere = tempFolder()
        defer { removeFolder(parent); removeFolder(elsewhere) }
        let root = parent + "/cams"
        makeFolder(root)
        let w = watcher(root, quiet: 1.0, rootPoll: 0.2)
        let reports = Reports()
        let problems = Problems()
        try w.start(ready: { reports.add($0) }, onProblem: { problems.add($0) }, onFatal: { _ in })
        defer { w.stop() }

        // The root itself moved away (IN_MOVE_SELF); a file is written into it while away.
        #expect(rename(root, elsewhere + "/cams") == 0)
        #expect(problems.wait(.rootGone, root, timeout: 2))
        writeFile(elsewhere + "/cams/x.mp4")
        sleep(0.3)
        #expect(reports.all.isEmpty, "reported from a folder no longer at a watch path")
        #expect(rename(elsewhere + "/cams", root) == 0)
        #expect(problems.wait(.rootBack, root, timeout: 2))
        #expect(reports.wait(root + "/x.mp4", timeout: 3))

        // Its parent renamed: no event reaches the root's own watch, only the poll of the root path sees it go.
        #expect(rename(parent, parent + "-moved") == 0)
        #expect(problems.wait(.rootGone, root, times: 2, timeout: 2))
        writeFile(parent + "-moved/cams/y.mp4")
        sleep(0.3)
        #expect(reports.count(root + "/y.mp4") == 0)
        #expect(rename(parent + "-moved", parent) == 0)
        #expect(problems.wait(.rootBack, root, times: 2, timeout: 2))
        #expect(reports.wait(root + "/y.mp4", timeout: 3))
        writeFile(root + "/z.mp4")
        #expect(reports.wait(root + "/z.mp4", timeout: 2))
        sleep(1.2)
        // x.mp4, unchanged through the second absence, is not reported twice.
        #expect(reports.all.map(\.path).sorted() == [root + "/x.mp4", root + "/y.mp4", root + "/z.mp4"])
    }

    @Test(.enabled(if: tmpfsCanBeMounted(), "mounting a tmpfs needs root with CAP_SYS_ADMIN"))
    func rootWhoseFileSystemIsUnmountedIsWatchedAgainWhenMounted() throws {
        let parent = tempFolder()
        defer { removeFolder(parent) }
        let root = parent + "/card"
        makeFolder(root)
        #expect(mount("snna-test", root, "tmpfs", 0, nil) == 0)
        defer { while umount2(root, mntDetach) == 0 {} }  // whatever is still mounted (runs before removeFolder)
        let w = watcher(root, quiet: 2, rootPoll: 0.2)  // quiet 2 s: a file reported sooner came from an event
        let reports = Reports()
        let problems = Problems()
        try w.start(ready: { reports.add($0) }, onProblem: { problems.add($0) }, onFatal: { _ in })
        defer { w.stop() }

        writeFile(root + "/a.mp4")
        #expect(reports.wait(root + "/a.mp4", timeout: 2))
        #expect(umount2(root, 0) == 0)
        #expect(problems.wait(.rootGone, root, timeout: 2))
        #expect(problems.all.last?.message.contains("unmounted") == true)
        #expect(problems.count(.rootBack, root) == 0, "the bare mount point is not the root coming back")
        #expect(w.counters.missingRoots == 1)

        // Mounted again, a file put on it at once (before or after the watcher sees it: reported either way).
        #expect(mount("snna-test", root, "tmpfs", 0, nil) == 0)
        writeFile(root + "/b.mp4")
        #expect(problems.wait(.rootBack, root, timeout: 2))
        #expect(w.counters.missingRoots == 0)
        #expect(reports.wait(root + "/b.mp4", timeout: 4))
        writeFile(root + "/c.mp4")
        let t = now()
        #expect(reports.wait(root + "/c.mp4", timeout: 2))
        #expect((reports.time(root + "/c.mp4") ?? 99) - t < 1.0)
        #expect(reports.all.map(\.path).sorted() == [root + "/a.mp4", root + "/b.mp4", root + "/c.mp4"])
    }

    @Test func fifoSwappedInForAClosedFileIsNeverReportedNorOpened() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5, rescan: 0.5)  // rescans walk over the FIFO too
        let reports = Reports()
        let gate = Gate()
        try w.start(ready: { file in
            reports.add(file)
            if file.path.hasSuffix("/gate.mp4") { gate.pass() }
        }, onProblem: { _ in }, onFatal: { _ in })
        let fifoGuard = FifoGuard()
        defer {
            fifoGuard.holdOpen()
            w.stop()
            fifoGuard.close()
        }
        let fifo = root + "/a.mp4"

        // The thread is held in `ready` while a.mp4 is written, closed, and replaced by a FIFO: its IN_CLOSE_WRITE
        // is read only after the swap.
        writeFile(root + "/gate.mp4")
        #expect(reports.wait(root + "/gate.mp4", timeout: 2))
        writeFile(fifo)
        #expect(unlink(fifo) == 0)
        #expect(mkfifo(fifo, 0o644) == 0)
        fifoGuard.watch(fifo)
        gate.open()

        // Not blocked: a file written afterwards is reported promptly.
        writeFile(root + "/b.mp4")
        #expect(reports.wait(root + "/b.mp4", timeout: 2))
        sleep(1.5)  // three quiet periods and rescans
        #expect(reports.count(fifo) == 0)
        #expect(w.counters.rescans >= 1)

        setOldMtime(fifo)
        let t = now()
        let found = w.scan()
        #expect(now() - t < 1)
        #expect(found.map(\.path) == [root + "/b.mp4", root + "/gate.mp4"])
        #expect(fifoGuard.stopWatching() == 0, "the watcher opened the FIFO for reading")
        #expect(reports.all.map(\.path).sorted() == [root + "/b.mp4", root + "/gate.mp4"])
    }

    @Test func fifoSocketAndDeviceAreIgnored() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5, rescan: 0.5)
        let reports = Reports()
        try w.start(ready: { reports.add($0) }, onProblem: { _ in }, onFatal: { _ in })
        let fifoGuard = FifoGuard()
        defer {
            fifoGuard.holdOpen()
            w.stop()
            fifoGuard.close()
        }

        #expect(mkfifo(root + "/pipe.mp4", 0o644) == 0)
        fifoGuard.watch(root + "/pipe.mp4")
        let sock = bindSocket(root + "/sock.mp4")
        defer { close(sock) }
        #expect(symlink(root + "/pipe.mp4", root + "/link.mp4") == 0)
        // A character device (/dev/null's numbers) where the kernel lets us make one (root, no seccomp filter).
        let device = mknod(root + "/null.mp4", S_IFCHR | 0o644, dev_t((1 << 8) | 3)) == 0
        writeFile(root + "/good.mp4")
        #expect(reports.wait(root + "/good.mp4", timeout: 2))
        sleep(1.5)  // three quiet periods and rescans
        #expect(reports.all.map(\.path) == [root + "/good.mp4"])

        for name in ["good.mp4", "pipe.mp4", "sock.mp4"] + (device ? ["null.mp4"] : []) { setOldMtime(root + "/" + name) }
        #expect(w.scan().map(\.path) == [root + "/good.mp4"])
        #expect(fifoGuard.stopWatching() == 0, "the watcher opened the FIFO for reading")
    }

    @Test func watchThatCannotBeAddedIsReportedCountedAndRescanned() throws {
        // The kernel's ENOSPC (fs.inotify.max_user_watches) cannot be provoked for one process without lowering the
        // limit for the whole machine, and EACCES not as root: the watch limit hook makes the second add fail with
        // ENOSPC, handled exactly like the kernel's answer.
        let root = tempFolder()
        defer { removeFolder(root) }
        let cam = root + "/cam"
        makeFolder(cam)
        let w = watcher(root, quiet: 3, rescan: 1.0)  // quiet 3 s: a file reported sooner came from an event
        w.watchLimitForTesting = 1  // the root's watch only
        let reports = Reports()
        let problems = Problems()
        try w.start(ready: { reports.add($0) }, onProblem: { problems.add($0) }, onFatal: { _ in })
        defer { w.stop() }

        #expect(problems.wait(.watchFailed, cam, timeout: 2))
        let failure = problems.all.first { $0.kind == .watchFailed }
        #expect(failure?.errorNumber == ENOSPC)
        #expect(failure?.message.contains(cam) == true)
        #expect(failure?.message.contains(String(cString: strerror(ENOSPC))) == true)
        #expect(failure?.message.contains("fs.inotify.max_user_watches") == true)
        #expect(w.watchFailures == 1)
        #expect(w.counters.unwatchedFolders == 1)

        // No event can come from cam: the periodic rescan finds the file.
        writeFile(cam + "/a.mp4")
        setOldMtime(cam + "/a.mp4")
        #expect(reports.wait(cam + "/a.mp4", timeout: 3))
        #expect(w.counters.filesFoundByRescan >= 1)
        // Each rescan retried the watch (counted), but the folder was reported once.
        #expect(w.watchFailures >= 2)
        #expect(problems.count(.watchFailed, cam) == 1)

        // Once the limit is lifted the next rescan adds the watch, and files there are reported on close again.
        w.watchLimitForTesting = nil
        #expect(problems.wait(.watchRestored, cam, timeout: 3))
        #expect(w.counters.unwatchedFolders == 0)
        writeFile(cam + "/b.mp4")
        let t = now()
        #expect(reports.wait(cam + "/b.mp4", timeout: 2))
        #expect((reports.time(cam + "/b.mp4") ?? 99) - t < 1.0)
        #expect(reports.count(cam + "/a.mp4") == 1)
    }

    @Test func watchRootThatCannotBeWatchedDoesNotStopTheStart() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        writeFile(root + "/a.mp4")
        setOldMtime(root + "/a.mp4")
        let w = watcher(root, quiet: 0.5, rescan: 0.5)
        w.watchLimitForTesting = 0
        let reports = Reports()
        let problems = Problems()
        try w.start(ready: { reports.add($0) }, onProblem: { problems.add($0) }, onFatal: { _ in })
        defer { w.stop() }
        #expect(problems.wait(.watchFailed, root, timeout: 2))
        // Not a missing root: the root poll leaves it to the rescans, which report its files.
        #expect(problems.count(.rootGone, root) == 0)
        #expect(reports.wait(root + "/a.mp4", timeout: 3))
    }

    @Test func periodicRescanReportsFilesWhoseEventsWereLost() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5, rescan: 1.0)
        let reports = Reports()
        try w.start(ready: { reports.add($0) }, onProblem: { _ in }, onFatal: { _ in })
        defer { w.stop() }

        w.dropEventsForTesting = true
        makeFolder(root + "/sub")
        writeFile(root + "/sub/lost.mp4")
        writeFile(root + "/lost2.mp4")
        #expect(reports.wait(root + "/sub/lost.mp4", timeout: 4))
        #expect(reports.wait(root + "/lost2.mp4", timeout: 1))
        #expect(w.counters.filesFoundByRescan == 2)
        sleep(2.5)  // two more rescans: nothing reported twice
        #expect(reports.all.count == 2)
        #expect(w.counters.rescans >= 3)
        #expect(w.counters.filesFoundByRescan == 2)
    }

    @Test func eventQueueOverflowIsReportedAndRescanned() throws {
        let limit = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
        guard limit <= 1_000_000 else { return }  // too many events to provoke in a test
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root, quiet: 0.5)  // rescan 600 s: only the overflow explains a rescan
        let reports = Reports()
        let problems = Problems()
        let gate = Gate()
        try w.start(ready: { file in
            reports.add(file)
            if file.path.hasSuffix("/gate.mp4") { gate.pass() }
        }, onProblem: { problems.add($0) }, onFatal: { _ in })
        defer { w.stop() }

        writeFile(root + "/gate.mp4")
        #expect(reports.wait(root + "/gate.mp4", timeout: 2))
        // While the thread is held, more events than the queue holds: writes alternating between two files (the
        // kernel merges an event only with an identical last one), then a file whose events are all lost.
        let x = open(root + "/x.mp4", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        let y = open(root + "/y.mp4", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        var byte: UInt8 = 1
        for _ in 0..<(limit / 2 + 1000) {
            _ = write(x, &byte, 1)
            _ = write(y, &byte, 1)
        }
        close(x)
        close(y)
        writeFile(root + "/lost.mp4")
        gate.open()

        #expect(problems.wait(.eventsOverflowed, nil, timeout: 3))
        #expect(w.counters.overflows == 1)
        #expect(reports.wait(root + "/lost.mp4", timeout: 3))
        #expect(reports.wait(root + "/x.mp4", timeout: 1))
        #expect(reports.wait(root + "/y.mp4", timeout: 1))
        #expect(w.counters.filesFoundByRescan >= 1)
    }

    @Test func failingInotifyDescriptorIsFatal() throws {
        let root = tempFolder()
        defer { removeFolder(root) }
        let w = watcher(root)
        let reports = Reports()
        let fatals = Fatals()
        try w.start(ready: { reports.add($0) }, onProblem: { _ in }, onFatal: { fatals.add($0) })
        defer { w.stop() }

        writeFile(root + "/before.mp4")
        #expect(reports.wait(root + "/before.mp4", timeout: 2))
        w.breakInotifyForTesting()
        #expect(fatals.wait(timeout: 2))
        #expect(fatals.all.count == 1)
        #expect(fatals.all.first?.contains("inotify") == true)
        #expect(fatals.all.first?.contains(String(cString: strerror(EISDIR))) == true)
        // The thread is gone, and stop() knows it.
        let t = now()
        w.stop()
        #expect(now() - t < 0.5)
        #expect(fatals.all.count == 1)
    }

    @Test func globPatterns() {
        #expect(FolderWatcher.globMatch("*.mp4", "a.mp4"))
        #expect(!FolderWatcher.globMatch("*.mp4", "a.MP4"))
        #expect(!FolderWatcher.globMatch("*.mp4", "a.mp4.part"))
        #expect(FolderWatcher.globMatch("GRMN????.MP4", "GRMN0042.MP4"))
        #expect(!FolderWatcher.globMatch("GRMN????.MP4", "GRMN042.MP4"))
        #expect(FolderWatcher.globMatch("*_[NEPM][FR].mp4", "20250101_120000_NF.mp4"))
        #expect(!FolderWatcher.globMatch("*_[NEPM][FR].mp4", "20250101_120000_XF.mp4"))
        #expect(FolderWatcher.globMatch("[!.]*.ts", "a.ts"))
    }
}
