import Foundation
import Glibc
import Testing
@testable import SNNAService

@Suite struct WatchdogPolicyTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func oneHungWorkerStopsThePingsWhateverTheOthersDo() {
        let busy = now.addingTimeInterval(-1)
        let hung = now.addingTimeInterval(-(300 + WatchdogPolicy.killGrace + 1))
        #expect(WatchdogPolicy.mayPing(lastProgress: [busy, busy], now: now, stallTimeout: 300))
        #expect(!WatchdogPolicy.mayPing(lastProgress: [busy, hung], now: now, stallTimeout: 300))
        #expect(!WatchdogPolicy.mayPing(lastProgress: [hung, busy], now: now, stallTimeout: 300))
        // Idle: nothing can be hung.
        #expect(WatchdogPolicy.mayPing(lastProgress: [], now: now, stallTimeout: 300))
        // Slow but within stall_timeout (the supervisor's own kill comes first): still alive.
        #expect(WatchdogPolicy.mayPing(lastProgress: [now.addingTimeInterval(-299)], now: now, stallTimeout: 300))
    }
}

@Suite struct TransientFailureTests {
    @Test func errnoTextsOfFullDisksAndDescriptorExhaustionAreTransientOthersAreNot() {
        #expect(TransientFailure.matches("cannot write video 'x/overlay.mp4': \(String(cString: strerror(ENOSPC)))"))
        #expect(TransientFailure.matches("cannot open 'a': \(String(cString: strerror(EMFILE)))"))
        #expect(TransientFailure.matches("job database /s/jobs.sqlite: database or disk is full"))
        #expect(!TransientFailure.matches("'x.mp4' is not a video FFmpeg can decode (moov atom not found)"))
        #expect(!TransientFailure.matches("cannot open 'a': \(String(cString: strerror(ENOENT)))"))
    }

    @Test func backoffDoublesUpToTheMaximum() {
        #expect(TransientFailure.backoff(retry: 1, base: 10, maximum: 1800) == 10)
        #expect(TransientFailure.backoff(retry: 2, base: 10, maximum: 1800) == 20)
        #expect(TransientFailure.backoff(retry: 5, base: 10, maximum: 1800) == 160)
        #expect(TransientFailure.backoff(retry: 9, base: 10, maximum: 1800) == 1800)
        #expect(TransientFailure.backoff(retry: 10_000, base: 10, maximum: 1800) == 1800)
    }
}

@Suite struct WorkerStatusTests {
    @Test func waitStatusesDecodeAsGlibcDefinesThem() {
        // A child killed by SIGILL (status 4), one that exited 3 (3 << 8), one stopped (0x7f).
        #expect(WorkerProcess.wasSignaled(4) && WorkerProcess.termSignal(4) == SIGILL)
        #expect(!WorkerProcess.wasSignaled(3 << 8) && WorkerProcess.exitStatus(3 << 8) == 3)
        #expect(!WorkerProcess.wasSignaled(0x7f))
        #expect(WorkerProcess.signalName(SIGSEGV) == "SIGSEGV" && WorkerProcess.signalName(63) == "signal 63")
    }

    @Test func theFatalErrorLineIsPreferredOverTheBacktraceAfterIt() {
        let stderr = "snna worker: something\nFatal error: Arithmetic overflow at VideoReader.swift:494\n0 snna 0x1 frame\n1 snna 0x2 frame\n"
        #expect(WorkerProcess.lastLine(Array(stderr.utf8)) == "Fatal error: Arithmetic overflow at VideoReader.swift:494")
        #expect(WorkerProcess.lastLine(Array("one\ntwo\n\n".utf8)) == "two")
        #expect(WorkerProcess.lastLine([]) == nil)
    }
}

@Suite struct JobStoreRetryTests {
    @Test func transientDeferralGivesTheAttemptBackAndWaitsCrashesCountAndEndInFailure() throws {
        let store = try JobStore(folder: try makeTempFolder("retry"))
        _ = try store.enqueue(path: "/in/a.mp4", size: 1, mtime: 1, fingerprint: "1-a")
        let start = Date()
        var job = try #require(try store.claimNext(now: start))
        #expect(job.attempts == 1)
        job = try store.deferTransient(job.id!, reason: "No space left on device", delay: 60, now: start)
        #expect(job.state == .queued && job.attempts == 0 && job.retries == 1)
        #expect(try store.claimNext(now: start.addingTimeInterval(59)) == nil)   // still backing off
        #expect(try store.nextDeferredDate() == start.addingTimeInterval(60))
        job = try #require(try store.claimNext(now: start.addingTimeInterval(61)))
        #expect(try store.endCrashedRun(job.id!, reason: "worker killed by SIGILL on frame 0", maxAttempts: 2) == .queued)
        job = try #require(try store.claimNext(now: start.addingTimeInterval(62)))
        #expect(job.attempts == 2)
        #expect(try store.endCrashedRun(job.id!, reason: "worker killed by SIGILL on frame 0", maxAttempts: 2) == .failed)
        let failed = try #require(try store.job(job.id!))
        #expect(failed.state == .failed && failed.error == "worker killed by SIGILL on frame 0 (attempt 2 of 2)")
        // snna jobs retry: a fresh budget.
        let again = try store.retry(job.id!)
        #expect(again.state == .queued && again.attempts == 0 && again.retries == 0 && again.error == nil)
        #expect(throws: StoreError.self) { try store.retry(job.id!) }   // not failed any more
    }

    @Test func retentionRecordsRemovedOutputsSoTheyAreNotMistakenForLostOnes() throws {
        let store = try JobStore(folder: try makeTempFolder("removed"))
        _ = try store.enqueue(path: "/in/a.mp4", size: 1, mtime: 1, fingerprint: "1-a")
        _ = try store.enqueue(path: "/in/b.mp4", size: 1, mtime: 1, fingerprint: "1-b")
        let a = try #require(try store.claimNext()), b = try #require(try store.claimNext())
        try store.markDone(a.id!, outputFolder: "/out/a")
        try store.markDone(b.id!, outputFolder: "/out/b")
        #expect(try store.isDoneOutput("/out/a") && !(try store.isDoneOutput("/out/c")))
        try store.markOutputsRemoved(["/out/a"])
        #expect(try store.doneWithOutputs().map(\.outputFolder) == ["/out/b"])
        try store.requeueLostOutput(b.id!)
        let requeued = try #require(try store.job(b.id!))
        #expect(requeued.state == .queued && requeued.error?.contains("/out/b") == true)
    }
}
