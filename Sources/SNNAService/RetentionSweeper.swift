import Foundation
import SNNAPipeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Output retention: removes finished output folders by age, then by total size, or while free space is short
/// (oldest first).
///
/// Only folders snna made are candidates: direct children of `outputRoot` that are real folders holding the output
/// marker (`OutputFolder.markerName`) or that `isOurs` accepts (the daemon: the output of a done job, for folders
/// written before the marker existed). Hidden names (starting with '.') are in-progress outputs or locks and are
/// never treated as outputs, and symlinks are neither followed nor deleted. Deletion walks with directory file
/// descriptors (`openat(O_NOFOLLOW)`, `unlinkat`), so a symlink inside an output folder is removed as a link and its
/// target is never entered. `willDelete` is called before each deletion (the daemon records it in the job store
/// first, so a crash in between never leaves a done job that looks lost). Sizes count regular-file bytes;
/// 1 GB = 10^9 bytes.
public struct RetentionSweeper: Sendable {
    public let outputRoot: String
    public let maxAgeDays: Double?
    public let maxTotalGB: Double?
    public let isOurs: @Sendable (String) -> Bool
    public let willDelete: @Sendable (String) -> Void

    public init(outputRoot: String, maxAgeDays: Double?, maxTotalGB: Double?,
                isOurs: @escaping @Sendable (String) -> Bool = { _ in false },
                willDelete: @escaping @Sendable (String) -> Void = { _ in }) {
        self.outputRoot = outputRoot
        self.maxAgeDays = maxAgeDays
        self.maxTotalGB = maxTotalGB
        self.isOurs = isOurs
        self.willDelete = willDelete
    }

    /// The output folders retention may delete, oldest first.
    func candidates(_ root: Int32) throws -> [Entry] {
        let prefix = outputRoot.hasSuffix("/") ? outputRoot : outputRoot + "/"
        return try Self.list(root, path: outputRoot)
            .filter { !$0.name.hasPrefix(".") && ($0.mode & S_IFMT) == S_IFDIR }
            .filter { OutputFolder.isMarked(prefix + $0.name) || isOurs(prefix + $0.name) }
            .sorted { ($0.mtime, $0.name) < ($1.mtime, $1.name) }
    }

    /// Deletes the oldest output folders, one at a time, while `needMore()` says space is still short. Returns the
    /// deleted paths.
    public func sweepOldest(while needMore: () -> Bool) throws -> [String] {
        let root = open(outputRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if root < 0 {
            if errno == ENOENT { return [] }
            throw StoreError("retention: cannot open output folder \(outputRoot): \(Self.errnoText())")
        }
        defer { close(root) }
        let prefix = outputRoot.hasSuffix("/") ? outputRoot : outputRoot + "/"
        var deleted: [String] = []
        for c in try candidates(root) {
            guard needMore() else { break }
            willDelete(prefix + c.name)
            try Self.removeTree(parent: root, name: c.name, path: prefix + c.name)
            deleted.append(prefix + c.name)
        }
        return deleted
    }

    /// Removes what dead runs left behind: `.<name>.partial-<pid>` folders whose process is gone, and `.<name>.lock`
    /// files nobody holds (taken with flock before the unlink, so a run that holds one is never disturbed; a run
    /// that opens a lock file just as it is unlinked notices and opens it anew, see `OutputFolder`). Returns the
    /// removed paths.
    public func reclaimLeftovers() -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: outputRoot) else { return [] }
        var removed: [String] = []
        let prefix = outputRoot.hasSuffix("/") ? outputRoot : outputRoot + "/"
        for entry in entries where entry.hasPrefix(".") {
            let path = prefix + entry
            if let range = entry.range(of: ".partial-", options: .backwards), let pid = Int32(entry[range.upperBound...]) {
                if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                    try? FileManager.default.removeItem(atPath: path)
                    removed.append(path)
                }
            } else if entry.hasSuffix(".lock") {
                let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { continue }
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    unlink(path)
                    removed.append(path)
                }
                close(fd)
            }
        }
        return removed
    }

    struct Entry { let name: String; let mode: mode_t; let size: Int64; let mtime: Double }

    /// Deletes folders older than `maxAgeDays` (by the folder's mtime), then the oldest ones while the total exceeds
    /// `maxTotalGB`. Returns the deleted paths, in deletion order. A missing output root sweeps nothing.
    public func sweep(now: Date = Date()) throws -> [String] {
        if maxAgeDays == nil && maxTotalGB == nil { return [] }
        let root = open(outputRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if root < 0 {
            if errno == ENOENT { return [] }
            throw StoreError("retention: cannot open output folder \(outputRoot): \(Self.errnoText())")
        }
        defer { close(root) }

        var candidates = try candidates(root)
        var deleted: [String] = []
        let prefix = outputRoot.hasSuffix("/") ? outputRoot : outputRoot + "/"

        if let days = maxAgeDays {
            let cutoff = now.timeIntervalSince1970 - days * 86_400
            for c in candidates where c.mtime < cutoff {
                willDelete(prefix + c.name)
                try Self.removeTree(parent: root, name: c.name, path: prefix + c.name)
                deleted.append(prefix + c.name)
            }
            candidates.removeAll { $0.mtime < cutoff }
        }
        if let gb = maxTotalGB {
            let limit = Int64((gb * 1e9).rounded(.down))
            var sizes: [Int64] = []
            for c in candidates { sizes.append(try Self.treeSize(parent: root, name: c.name, path: prefix + c.name)) }
            var total = sizes.reduce(0, +)
            var i = 0
            while total > limit && i < candidates.count {
                willDelete(prefix + candidates[i].name)
                try Self.removeTree(parent: root, name: candidates[i].name, path: prefix + candidates[i].name)
                deleted.append(prefix + candidates[i].name)
                total -= sizes[i]
                i += 1
            }
        }
        return deleted
    }

    // MARK: - fd-based tree walking (never follows symlinks)

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The entries of the open directory `fd` (lstat semantics), without "." and "..".
    static func list(_ fd: Int32, path: String) throws -> [Entry] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw StoreError("retention: cannot list \(path): \(errnoText())")
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var out: [Entry] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }   // vanished meanwhile
                throw StoreError("retention: cannot stat \(path)/\(name): \(errnoText())")
            }
            let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            out.append(Entry(name: name, mode: st.st_mode, size: Int64(st.st_size), mtime: mtime))
        }
        return out
    }

    static func openChildDir(parent: Int32, name: String, path: String) throws -> Int32 {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError("retention: cannot open \(path): \(errnoText())") }
        return fd
    }

    /// Bytes of the regular files under `parent/name`.
    static func treeSize(parent: Int32, name: String, path: String) throws -> Int64 {
        let fd = try openChildDir(parent: parent, name: name, path: path)
        defer { close(fd) }
        var total: Int64 = 0
        for e in try list(fd, path: path) {
            switch e.mode & S_IFMT {
            case S_IFDIR: total += try treeSize(parent: fd, name: e.name, path: path + "/" + e.name)
            case S_IFREG: total += e.size
            default: break
            }
        }
        return total
    }

    /// Removes `parent/name` and everything below it; symlinks are unlinked, never followed.
    static func removeTree(parent: Int32, name: String, path: String) throws {
        let fd = try openChildDir(parent: parent, name: name, path: path)
        do {
            for e in try list(fd, path: path) {
                if (e.mode & S_IFMT) == S_IFDIR {
                    try removeTree(parent: fd, name: e.name, path: path + "/" + e.name)
                } else if unlinkat(fd, e.name, 0) != 0 && errno != ENOENT {
                    throw StoreError("retention: cannot delete \(path)/\(e.name): \(errnoText())")
                }
            }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        if unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
            throw StoreError("retention: cannot delete \(path): \(errnoText())")
        }
    }
}
