import CSNNASystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One input's output folder, built under a temporary name and swapped into place atomically on success, so readers
/// never see a half-finished folder (only the live `actions.jsonl` inside the temporary one) and a re-run replaces
/// the previous result in one step. A lock file keeps two runs from writing the same folder at once.
///
/// Durability (docs/daemon.md): `commit` fsyncs every file, then the working folder, then renames, then fsyncs the
/// root, so once it returns the result survives a power cut. Each committed folder holds a marker file
/// (`.snna-output`, with the input's identity): retention deletes only folders that carry it, and a folder is never
/// replaced by the result of a different input.
public final class OutputFolder {
    /// The marker file inside every committed output folder.
    public static let markerName = ".snna-output"
    /// Longest folder name: the working name adds ".", ".partial-" and a pid, the lock "." and ".lock", and all must
    /// fit NAME_MAX (255 bytes).
    public static let maxNameBytes = 200

    let root: String
    let name: String
    /// What the result is of (the daemon: the input's content fingerprint); nil lets any earlier result be replaced.
    let identity: String?
    /// Where this run writes: `<root>/.<name>.partial-<pid>`.
    let working: String
    /// Where the result lands: `<root>/<name>`.
    let final: String
    private var lockDescriptor: Int32 = -1
    private var finished = false

    public init(root: String, name: String, identity: String? = nil) throws {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameBytes, !name.contains("/"), name != ".", name != ".." else {
            throw PipelineError("output folder name '\(name)' is not usable (at most \(Self.maxNameBytes) bytes, no '/')")
        }
        self.root = root
        self.name = name
        self.identity = identity
        final = root + "/" + name
        working = root + "/." + name + ".partial-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            finished = true
            throw PipelineError("cannot create output folder '\(root)': \((error as NSError).localizedDescription)")
        }
        let lockPath = root + "/." + name + ".lock"
        // Retention reclaims lock files nobody holds (flock, then unlink): a lock taken on a file that was unlinked
        // meanwhile protects nothing, so take it again on the file now at the path.
        while true {
            lockDescriptor = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard lockDescriptor >= 0 else {
                finished = true
                throw PipelineError("cannot create lock '\(lockPath)': \(String(cString: strerror(errno)))")
            }
            guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
                Glibc.close(lockDescriptor)
                lockDescriptor = -1
                finished = true  // deinit must not touch the working folder, which may be the lock holder's
                throw PipelineError("another snna run is writing '\(final)' right now")
            }
            var held = stat(), atPath = stat()
            if fstat(lockDescriptor, &held) == 0 && stat(lockPath, &atPath) == 0
                && held.st_ino == atPath.st_ino && held.st_dev == atPath.st_dev { break }
            Glibc.close(lockDescriptor)
            lockDescriptor = -1
        }
        removeStalePartials()
        try? FileManager.default.removeItem(atPath: working)
        do {
            try FileManager.default.createDirectory(atPath: working, withIntermediateDirectories: false)
        } catch {
            throw PipelineError("cannot create '\(working)': \((error as NSError).localizedDescription)")
        }
    }

    deinit {
        if !finished { abandon() }
        releaseLock()
    }

    public func path(_ file: String) -> String { working + "/" + file }

    /// Makes the finished folder durable and swaps it into place (an atomic exchange when a previous result exists,
    /// which is then removed): marker written → every file fsynced → working folder fsynced → rename → root fsynced.
    public func commit() throws {
        try writeMarker()
        try DurableFiles.syncTree(working)
        var previous: String?
        if FileManager.default.fileExists(atPath: final) {
            if let identity, let existing = Self.identity(of: final), existing != identity {
                throw PipelineError("'\(final)' holds the result of another input (\(existing)); not replacing it")
            }
            guard csys_exchange_paths(working, final) == 0 else {
                throw PipelineError("cannot replace '\(final)': \(String(cString: strerror(errno)))")
            }
            previous = working  // now holds the previous result
        } else {
            guard rename(working, final) == 0 else {
                throw PipelineError("cannot move the result to '\(final)': \(String(cString: strerror(errno)))")
            }
        }
        finished = true
        try DurableFiles.syncFolder(root)
        if let previous { try? FileManager.default.removeItem(atPath: previous) }
        releaseLock()
    }

    private func writeMarker() throws {
        var fields: [String: String] = ["format": "snna-output/1", "name": name]
        if let identity { fields["identity"] = identity }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
        guard FileManager.default.createFile(atPath: path(Self.markerName), contents: data + Data("\n".utf8)) else {
            throw PipelineError("cannot write '\(path(Self.markerName))': \(String(cString: strerror(errno)))")
        }
    }

    /// Whether `folder` was made by snna (it holds the marker file).
    public static func isMarked(_ folder: String) -> Bool {
        var st = stat()
        return lstat(folder + "/" + markerName, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The identity recorded in a committed folder's marker (nil when there is none).
    public static func identity(of folder: String) -> String? {
        guard let data = FileManager.default.contents(atPath: folder + "/" + markerName),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["identity"] as? String
    }

    /// `stem` + `suffix`, with the stem cut (at a character boundary) so the whole fits `maxNameBytes`.
    public static func name(stem: String, suffix: String) -> String {
        let budget = maxNameBytes - suffix.utf8.count
        var cut = ""
        for character in stem {
            if cut.utf8.count + String(character).utf8.count > budget { break }
            cut.append(character)
        }
        return cut + suffix
    }

    /// Deletes everything this run wrote and lets the name go.
    public func abandon() {
        try? FileManager.default.removeItem(atPath: working)
        finished = true
        releaseLock()
    }

    private func releaseLock() {
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor) }
        lockDescriptor = -1
    }

    /// Partial folders of runs that died (their process is gone) are removed; a live run's are left alone.
    private func removeStalePartials() {
        OutputFolder.removeStalePartials(root: root, name: name)
    }

    /// The same for every name under `root` (a daemon at start), or for one name.
    public static func removeStalePartials(root: String, name: String? = nil) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for entry in entries where entry.hasPrefix(".") {
            guard let range = entry.range(of: ".partial-", options: .backwards),
                  name == nil || String(entry[entry.index(after: entry.startIndex)..<range.lowerBound]) == name,
                  let pid = Int32(entry[range.upperBound...]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: root + "/" + entry) }
        }
    }
}
