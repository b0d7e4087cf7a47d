import CSNNASystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One input's output folder, built under a temporary name and swapped into place atomically on success, so readers
/// never see a half-finished folder (only the live `actions.jsonl` inside the temporary one) and a re-run replaces
/// the previous result in one step. A lock file keeps two runs from writing the same folder at once.
public final class OutputFolder {
    let root: String
    let name: String
    /// Where this run writes: `<root>/.<name>.partial-<pid>`.
    let working: String
    /// Where the result lands: `<root>/<name>`.
    let final: String
    private var lockDescriptor: Int32 = -1
    private var finished = false

    public init(root: String, name: String) throws {
        self.root = root
        self.name = name
        final = root + "/" + name
        working = root + "/." + name + ".partial-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            finished = true
            throw PipelineError("cannot create output folder '\(root)': \((error as NSError).localizedDescription)")
        }
        let lockPath = root + "/." + name + ".lock"
        lockDescriptor = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
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
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor) }
    }

    public func path(_ file: String) -> String { working + "/" + file }

    /// Swaps the finished folder into place (an atomic exchange when a previous result exists) and removes the old.
    public func commit() throws {
        if FileManager.default.fileExists(atPath: final) {
            guard csys_exchange_paths(working, final) == 0 else {
                throw PipelineError("cannot replace '\(final)': \(String(cString: strerror(errno)))")
            }
            try? FileManager.default.removeItem(atPath: working)  // now holds the previous result
        } else {
            guard rename(working, final) == 0 else {
                throw PipelineError("cannot move the result to '\(final)': \(String(cString: strerror(errno)))")
            }
        }
        finished = true
    }

    /// Deletes everything this run wrote.
    public func abandon() {
        try? FileManager.default.removeItem(atPath: working)
        finished = true
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
