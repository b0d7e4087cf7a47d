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
                     patterns: [String] = ["*.mp4", "*.MP4", "*.ts"]) -> FolderWatcher {
    FolderWatcher(folders: [ServiceConfig.WatchFolder(path: root, recursive: recursive, patterns: patterns)],
                  excluded: excluded, quietPeriod: quiet)
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
