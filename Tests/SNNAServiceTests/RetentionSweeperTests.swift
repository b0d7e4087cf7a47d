import Foundation
import SNNAPipeline
import Synchronization
import Testing
@testable import SNNAService

@Suite struct RetentionSweeperTests {
    let root: String
    let fm = FileManager.default
    let now = Date(timeIntervalSince1970: 1_750_000_000)

    init() throws { root = try makeTempFolder("retention") }

    /// An output folder with one file of `bytes` bytes (plus a nested folder), aged `ageDays` relative to `now`,
    /// carrying snna's output marker unless `marked` is false.
    @discardableResult
    func output(_ name: String, ageDays: Double, bytes: Int, in base: String? = nil, marked: Bool = true) throws -> String {
        let dir = (base ?? root) + "/" + name
        try fm.createDirectory(atPath: dir + "/frames", withIntermediateDirectories: true)
        try Data(repeating: 1, count: bytes).write(to: URL(fileURLWithPath: dir + "/frames/data.bin"))
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: dir + "/actions.jsonl"))
        if marked { try Data("{}\n".utf8).write(to: URL(fileURLWithPath: dir + "/" + OutputFolder.markerName)) }
        try fm.setAttributes([.modificationDate: now.addingTimeInterval(-ageDays * 86_400)], ofItemAtPath: dir)
        return dir
    }

    func exists(_ p: String) -> Bool { fm.fileExists(atPath: p) }

    @Test func deletesByAge() throws {
        let old = try output("2024-old", ageDays: 40, bytes: 10)
        let fresh = try output("2025-new", ageDays: 2, bytes: 10)
        let hidden = try output(".inprogress-x", ageDays: 400, bytes: 10)
        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: 30, maxTotalGB: nil).sweep(now: now)
        #expect(deleted == [old])
        #expect(!exists(old) && exists(fresh) && exists(hidden))
    }

    @Test func deletesOldestWhileOverSize() throws {
        // limit 2.5 kB (2.5e-6 GB): four folders of 1000 B (+3 B each) → the two oldest go.
        let a = try output("a", ageDays: 4, bytes: 1000)
        let b = try output("b", ageDays: 3, bytes: 1000)
        let c = try output("c", ageDays: 2, bytes: 1000)
        let d = try output("d", ageDays: 1, bytes: 1000)
        let lock = root + "/.lock"
        try Data(repeating: 0, count: 50_000).write(to: URL(fileURLWithPath: lock))
        let hidden = try output(".tmp-e", ageDays: 9, bytes: 100_000)   // not counted, never deleted
        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: nil, maxTotalGB: 2.5e-6).sweep(now: now)
        #expect(deleted == [a, b])
        #expect(!exists(a) && !exists(b) && exists(c) && exists(d) && exists(hidden) && exists(lock))
    }

    @Test func ageThenSize() throws {
        let old = try output("old", ageDays: 100, bytes: 10)
        let mid = try output("mid", ageDays: 5, bytes: 2000)
        let new = try output("new", ageDays: 1, bytes: 2000)
        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: 30, maxTotalGB: 3e-6).sweep(now: now)
        #expect(deleted == [old, mid])
        #expect(exists(new))
    }

    @Test func neverTouchesSymlinkTargets() throws {
        let outside = try makeTempFolder("retention-outside")
        let target = try output("precious", ageDays: 500, bytes: 5000, in: outside)
        let link = root + "/linked"
        try fm.createSymbolicLink(atPath: link, withDestinationPath: target)
        // A real old output folder holding a symlink to the outside folder and to an outside file.
        let victim = try output("victim", ageDays: 500, bytes: 10)
        try fm.createSymbolicLink(atPath: victim + "/frames/escape", withDestinationPath: target)
        try fm.createSymbolicLink(atPath: victim + "/file-link", withDestinationPath: target + "/actions.jsonl")
        try fm.setAttributes([.modificationDate: now.addingTimeInterval(-500 * 86_400)], ofItemAtPath: victim)

        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: 1, maxTotalGB: 0).sweep(now: now)
        #expect(deleted == [victim])
        #expect(!exists(victim))
        #expect((try? fm.destinationOfSymbolicLink(atPath: link)) == target)   // the link itself is left alone
        #expect(exists(target + "/frames/data.bin") && exists(target + "/actions.jsonl"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/frames/data.bin")).count == 5000)
    }

    @Test func foldersSnnaDidNotMakeAreNeverDeleted() throws {
        // The state folder (or any folder an operator keeps there) has no marker: never an output, however old.
        let state = try output("state", ageDays: 900, bytes: 10_000, marked: false)
        let recorded = try output("recorded-by-the-store", ageDays: 900, bytes: 10, marked: false)
        let old = try output("old", ageDays: 900, bytes: 10)
        let asked = Mutex<[String]>([])
        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: 1, maxTotalGB: 0,
                                           isOurs: { $0 == recorded },
                                           willDelete: { p in asked.withLock { $0.append(p) } })
            .sweep(now: now)
        #expect(Set(deleted) == [recorded, old])
        #expect(Set(asked.withLock { $0 }) == Set(deleted))   // each deletion announced before it happens
        #expect(exists(state + "/frames/data.bin"))
    }

    @Test func sweepOldestStopsAsSoonAsEnoughIsFree() throws {
        let a = try output("a", ageDays: 3, bytes: 10)
        let b = try output("b", ageDays: 2, bytes: 10)
        let c = try output("c", ageDays: 1, bytes: 10)
        var rounds = 0
        let deleted = try RetentionSweeper(outputRoot: root, maxAgeDays: nil, maxTotalGB: nil)
            .sweepOldest(while: { rounds += 1; return rounds <= 2 })
        #expect(deleted == [a, b])
        #expect(!exists(a) && !exists(b) && exists(c))
    }

    @Test func leftoversOfDeadRunsAreReclaimedButHeldLocksAreNot() throws {
        // A pid that cannot be alive (above pid_max's ceiling) and a live one (ours).
        let dead = root + "/.clip.partial-99999999", live = root + "/.clip2.partial-\(getpid())"
        try fm.createDirectory(atPath: dead, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: live, withIntermediateDirectories: true)
        let freeLock = root + "/.clip.lock", heldLock = root + "/.clip3.lock"
        fm.createFile(atPath: freeLock, contents: nil)
        fm.createFile(atPath: heldLock, contents: nil)
        let fd = open(heldLock, O_RDWR)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let removed = RetentionSweeper(outputRoot: root, maxAgeDays: nil, maxTotalGB: nil).reclaimLeftovers()
        #expect(Set(removed) == [dead, freeLock])
        #expect(!exists(dead) && exists(live) && !exists(freeLock) && exists(heldLock))
    }

    @Test func missingRootOrNoLimitsSweepsNothing() throws {
        #expect(try RetentionSweeper(outputRoot: root + "/nope", maxAgeDays: 1, maxTotalGB: 1).sweep().isEmpty)
        let old = try output("old", ageDays: 100, bytes: 10)
        #expect(try RetentionSweeper(outputRoot: root, maxAgeDays: nil, maxTotalGB: nil).sweep(now: now).isEmpty)
        #expect(exists(old))
    }
}
