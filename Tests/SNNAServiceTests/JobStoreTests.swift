import Foundation
import Testing
import Synchronization
@testable import SNNAService

func makeTempFolder(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("snna-\(tag)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct JobStoreTests {
    let folder: String
    init() throws { folder = try makeTempFolder("store") }

    func enqueue(_ s: JobStore, _ path: String, _ fp: String, retryFailed: Bool = false) throws -> Job? {
        try s.enqueue(path: path, size: 100, mtime: 1_700_000_000.5, fingerprint: fp, retryFailed: retryFailed)
    }

    @Test func createsFolderAndDatabase() throws {
        let nested = folder + "/a/b/state"
        let s = try JobStore(folder: nested)
        #expect(FileManager.default.fileExists(atPath: nested + "/jobs.sqlite"))
        #expect(try s.queueDepth() == 0)
        #expect(try s.journalMode() == "wal")
        #expect(try s.synchronousLevel() == 2)   // FULL: a commit is fsynced before it returns
    }

    @Test func unwritableFolderIsAClearError() throws {
        let file = folder + "/plainfile"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        #expect { _ = try JobStore(folder: file) } throws: { e in
            (e as? StoreError)?.message.contains("not a folder") == true
        }
        if getuid() != 0 {
            let ro = folder + "/ro"
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
            chmod(ro, 0o500)
            defer { chmod(ro, 0o700) }
            #expect { _ = try JobStore(folder: ro) } throws: { e in
                (e as? StoreError)?.description == "state folder \(ro) is not writable"
            }
        }
    }

    @Test func enqueueClaimDoneFlow() throws {
        let s = try JobStore(folder: folder)
        let a = try #require(try enqueue(s, "/cam/a.mp4", "fa"))
        let b = try #require(try enqueue(s, "/cam/b.mp4", "fb"))
        #expect(a.state == .queued && a.attempts == 0 && a.id != nil)
        #expect(try s.job(a.id!) == a)   // exact round trip, dates included
        #expect(try s.queueDepth() == 2)

        let c1 = try #require(try s.claimNext())
        #expect(c1.id == a.id && c1.state == .running && c1.attempts == 1 && c1.startedAt != nil)
        try s.markDone(c1.id!, outputFolder: "/out/a")
        let doneA = try #require(try s.job(a.id!))
        #expect(doneA.state == .done && doneA.outputFolder == "/out/a" && doneA.finishedAt != nil)

        let c2 = try #require(try s.claimNext())
        #expect(c2.id == b.id)
        try s.markFailed(c2.id!, error: "decode error")
        #expect(try s.job(b.id!)?.error == "decode error")
        #expect(try s.claimNext() == nil)

        #expect(try s.jobs().map(\.id) == [b.id, a.id])   // newest first
        #expect(try s.jobs(states: [.done]).map(\.id) == [a.id])
        #expect(try s.jobs(limit: 1).count == 1)
        #expect(throws: StoreError.self) { try s.markDone(999, outputFolder: "/x") }
    }

    @Test func exactlyOnceAcrossRenameAndRestart() throws {
        do {
            let s = try JobStore(folder: folder)
            let j = try #require(try enqueue(s, "/cam/a.mp4", "f1"))
            #expect(try enqueue(s, "/cam/a.mp4", "f1") == nil)        // same path + fingerprint queued
            _ = try s.claimNext()
            #expect(try enqueue(s, "/cam/a.mp4", "f1") == nil)        // ... running
            try s.markDone(j.id!, outputFolder: "/out/a")
            #expect(try enqueue(s, "/cam/a.mp4", "f1") == nil)        // done
            #expect(try enqueue(s, "/cam/renamed.mp4", "f1") == nil)  // done under another name
            try s.close()
        }
        let reopened = try JobStore(folder: folder)   // restart
        #expect(try enqueue(reopened, "/cam/a.mp4", "f1") == nil)
        #expect(try enqueue(reopened, "/cam/other.mp4", "f1") == nil)
        #expect(try enqueue(reopened, "/cam/a.mp4", "f2") != nil)   // new content at the same path is new work
        #expect(try reopened.counts()[.done] == 1)
    }

    @Test func failedIsNotRetriedUnlessAsked() throws {
        let s = try JobStore(folder: folder)
        let j = try #require(try enqueue(s, "/cam/a.mp4", "f1"))
        _ = try s.claimNext()
        try s.markFailed(j.id!, error: "boom")
        #expect(try enqueue(s, "/cam/a.mp4", "f1") == nil)
        let again = try #require(try enqueue(s, "/cam/a.mp4", "f1", retryFailed: true))
        #expect(again.id == j.id && again.state == .queued && again.attempts == 0 && again.error == nil)
        #expect(try s.counts()[.failed] == 0)
        #expect(try s.queueDepth() == 1)
    }

    @Test func copyQueuedTwiceIsSkippedOnceTheFirstIsDone() throws {
        let s = try JobStore(folder: folder)
        let a = try #require(try enqueue(s, "/cam/a.mp4", "f1"))
        let b = try #require(try enqueue(s, "/cam/copy.mp4", "f1"))   // different path: queued too
        _ = try s.claimNext()
        try s.markDone(a.id!, outputFolder: "/out/a")
        #expect(try s.claimNext() == nil)
        let skipped = try #require(try s.job(b.id!))
        #expect(skipped.state == .skipped && skipped.error?.contains("already processed") == true)
    }

    @Test func changedFileSupersedesItsQueuedJob() throws {
        let s = try JobStore(folder: folder)
        let old = try #require(try enqueue(s, "/cam/a.mp4", "v1"))
        _ = try #require(try enqueue(s, "/cam/a.mp4", "v2"))
        #expect(try s.job(old.id!)?.state == .skipped)
        #expect(try s.queueDepth() == 1)
    }

    @Test func twoWorkersNeverClaimTheSameJob() throws {
        let s = try JobStore(folder: folder)
        let other = try JobStore(folder: folder)   // a second connection, as a second process would have
        for i in 0..<100 { _ = try enqueue(s, "/cam/\(i).mp4", "f\(i)") }
        let claimed = Mutex<[[Int64]]>([[], []])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let store = worker == 0 ? s : other
            do {
                while let j = try store.claimNext() {
                    claimed.withLock { $0[worker].append(j.id!) }
                    try store.markDone(j.id!, outputFolder: "/out/\(j.id!)")
                }
            } catch { failures.withLock { $0.append("\(error)") } }
        }
        #expect(failures.withLock { $0 } == [])
        let ids = claimed.withLock { $0 }
        #expect(Set(ids[0]).isDisjoint(with: Set(ids[1])))
        #expect(ids[0].count + ids[1].count == 100)
        #expect(Set(ids[0] + ids[1]).count == 100)
        #expect(try s.counts()[.done] == 100)
        #expect(try s.queueDepth() == 0)
    }

    @Test func sameStoreFromTwoThreads() throws {
        let s = try JobStore(folder: folder)
        for i in 0..<100 { _ = try enqueue(s, "/cam/\(i).mp4", "f\(i)") }
        let claimed = Mutex<[Int64]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            while let j = try? s.claimNext() { claimed.withLock { $0.append(j.id!) } }
        }
        let ids = claimed.withLock { $0 }
        #expect(ids.count == 100 && Set(ids).count == 100)
        #expect(try s.counts()[.running] == 100)
    }

    @Test func recoverInterruptedRequeuesThenFails() throws {
        let s = try JobStore(folder: folder)
        let j = try #require(try enqueue(s, "/cam/a.mp4", "f1"))
        let k = try #require(try enqueue(s, "/cam/b.mp4", "f2"))
        _ = try s.claimNext(); _ = try s.claimNext()   // both running, attempts 1: then the process "dies"
        try s.close()

        var store = try JobStore(folder: folder)
        var r = try store.recoverInterrupted(maxAttempts: 2)
        #expect(r.requeued.map(\.id) == [j.id, k.id] && r.failed.isEmpty)
        #expect(try store.queueDepth() == 2)
        #expect(try store.claimNext()?.attempts == 2)   // j taken again, dies again
        store = try JobStore(folder: folder)
        r = try store.recoverInterrupted(maxAttempts: 2)
        #expect(r.requeued.isEmpty && r.failed.map(\.id) == [j.id])
        let failed = try #require(try store.job(j.id!))
        #expect(failed.state == .failed && failed.error == "interrupted 2 times (limit 2)")
        #expect(try store.job(k.id!)?.state == .queued)
        #expect(try store.recoverInterrupted(maxAttempts: 2).requeued.isEmpty)
    }

    @Test func requeueDoesNotCountAnAttempt() throws {
        let s = try JobStore(folder: folder)
        let j = try #require(try enqueue(s, "/cam/a.mp4", "f1"))
        #expect(try s.claimNext()?.attempts == 1)
        try s.requeue(j.id!)
        let q = try #require(try s.job(j.id!))
        #expect(q.state == .queued && q.attempts == 0)
        #expect(try s.claimNext()?.attempts == 1)
        try s.markDone(j.id!, outputFolder: "/o")
        #expect(throws: StoreError.self) { try s.requeue(j.id!) }   // not running
    }

    @Test func markSkippedAndCounts() throws {
        let s = try JobStore(folder: folder)
        let a = try #require(try enqueue(s, "/cam/a.mp4", "fa"))
        _ = try enqueue(s, "/cam/b.mp4", "fb")
        _ = try enqueue(s, "/cam/c.mp4", "fc")
        try s.markSkipped(a.id!, reason: "file deleted while queued")
        let sk = try #require(try s.job(a.id!))
        #expect(sk.state == .skipped && sk.error == "file deleted while queued")
        let running = try #require(try s.claimNext())
        #expect(running.path == "/cam/b.mp4")
        #expect(try s.counts() == [.queued: 1, .running: 1, .done: 0, .failed: 0, .skipped: 1])
        #expect(try s.queueDepth() == 1)
        // the file comes back: a skipped job does not block it
        #expect(try enqueue(s, "/cam/a.mp4", "fa") != nil)
    }
}

@Suite struct FingerprintTests {
    @Test func detectsOneByteInAMiddleSampleAndMatchesCopies() throws {
        let dir = try makeTempFolder("fp")
        let size = 5 << 20 + 12_345
        var bytes = [UInt8](repeating: 0, count: size)
        var x: UInt64 = 42
        for i in 0..<size { x = x &* 6364136223846793005 &+ 1442695040888963407; bytes[i] = UInt8(x >> 56) }
        let a = dir + "/a.mp4", b = dir + "/b.mp4"
        try Data(bytes).write(to: URL(fileURLWithPath: a))
        try Data(bytes).write(to: URL(fileURLWithPath: b))
        let fa = try Fingerprint.of(path: a)
        #expect(fa == (try Fingerprint.of(path: b)))
        #expect(fa.hasPrefix(String(size, radix: 16) + "-") && fa.count == String(size, radix: 16).count + 65)
        #expect(Fingerprint.shortID(fa).count == 16 && fa.hasSuffix(String(fa.suffix(64))))

        let offsets = Fingerprint.sampleOffsets(size: Int64(size))
        #expect(offsets.count == 16)
        let pos = Int(offsets[8]) + 1000
        bytes[pos] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: b))
        #expect(try Fingerprint.of(path: b) != fa)
    }

    @Test func smallFilesAreHashedWhole() throws {
        let dir = try makeTempFolder("fp")
        let p = dir + "/s.bin"
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: p))
        let f1 = try Fingerprint.of(path: p)
        var d = Data(repeating: 7, count: 10_000); d[5_000] = 8
        try d.write(to: URL(fileURLWithPath: p))
        #expect(try Fingerprint.of(path: p) != f1)
        try Data().write(to: URL(fileURLWithPath: p))
        #expect(try Fingerprint.of(path: p).hasPrefix("0-"))
    }

    /// Files of 1 to 3 MiB are hashed whole, in one region up to 3 MiB long: the buffer must be that large (it was
    /// 1 MiB, and reading 3 MiB into it corrupted memory). Each size at and around the boundaries, against an
    /// independent SHA-256 (sha256sum) of the same bytes the fingerprint is defined over.
    @Test(arguments: [(1 << 20) - 1, 1 << 20, (1 << 20) + 1, 943_718, 1_572_864, 3_040_870,
                      (2 << 20) + 16 * (64 << 10) - 1, (2 << 20) + 16 * (64 << 10), (2 << 20) + 16 * (64 << 10) + 1])
    func sizesAroundTheBufferBoundariesMatchAnIndependentHash(size: Int) throws {
        let dir = try makeTempFolder("fp-sizes")
        var bytes = [UInt8](repeating: 0, count: size)
        var x: UInt64 = UInt64(size)
        for i in 0..<size { x = x &* 6364136223846793005 &+ 1442695040888963407; bytes[i] = UInt8(x >> 56) }
        let p = dir + "/clip.mp4"
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        let fingerprint = try Fingerprint.of(path: p)
        // What is hashed: the size (8 bytes little-endian), then each region's bytes.
        var hashed = withUnsafeBytes(of: Int64(size).littleEndian) { Data($0) }
        for region in Fingerprint.regions(size: Int64(size)) {
            hashed.append(contentsOf: bytes[Int(region.offset)..<(Int(region.offset) + region.length)])
        }
        let input = dir + "/hashed.bin"
        try hashed.write(to: URL(fileURLWithPath: input))
        let sha = Process()
        sha.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sha.arguments = [input]
        let out = Pipe()
        sha.standardOutput = out
        try sha.run()
        sha.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(fingerprint == String(size, radix: 16) + "-" + expected)
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let dir = try makeTempFolder("fp-fifo")
        let p = dir + "/clip.mp4"
        #expect(mkfifo(p, 0o644) == 0)
        // With a blocking open this would wait forever for a writer.
        #expect { _ = try Fingerprint.of(path: p) } throws: { e in
            (e as? StoreError)?.message.contains("not a regular file") == true
        }
    }

    @Test func unreadableFileThrowsClearly() throws {
        #expect { _ = try Fingerprint.of(path: "/nonexistent/x.mp4") } throws: { e in
            (e as? StoreError)?.message.hasPrefix("cannot fingerprint /nonexistent/x.mp4:") == true
        }
    }
}
