import Dispatch
import Foundation
import Synchronization
import Testing
@testable import SNNAPipeline

@Suite struct ActivityTrackerTests {
    @Test func sharesAndSegmentsFollowTheFrames() {
        var t = ActivityTracker(labels: ["a", "b"])
        // 4 frames of 0.5 s: a active in frames 1–2, b in frame 3 (to the end).
        t.add(active: [false, false], start: 0, duration: 0.5)
        t.add(active: [true, false], start: 0.5, duration: 0.5)
        t.add(active: [true, false], start: 1.0, duration: 0.5)
        t.add(active: [false, true], start: 1.5, duration: 1.0)
        t.finish(at: 2.5)
        let actions = t.actions
        #expect(actions[0].segments == [.init(start: 0.5, end: 1.5)])
        #expect(actions[1].segments == [.init(start: 1.5, end: 2.5)])
        #expect(abs(actions[0].active_share - 1.0 / 2.5) < 1e-12)
        #expect(abs(actions[1].active_share - 1.0 / 2.5) < 1e-12)
        #expect(actions[0].active_frames == 2 && actions[1].active_frames == 1)
    }
}

@Suite struct FrameQueueTests {
    @Test func deliversInOrderAndNeverHoldsMoreThanItsCapacity() {
        let queue = FrameQueue<Int>(capacity: 3)
        let produced = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            for i in 0..<200 {
                _ = queue.push(i)
                produced.store(i + 1, ordering: .sequentiallyConsistent)
            }
            queue.close()
            done.signal()
        }.start()
        var received: [Int] = []
        while let x = queue.pop() {
            // The producer can be at most capacity items (+ the one being pushed) ahead of what was taken.
            let ahead = produced.load(ordering: .sequentiallyConsistent) - received.count
            #expect(ahead <= 4, "producer ran \(ahead) ahead")
            received.append(x)
            if x % 50 == 0 { usleep(2000) }
        }
        done.wait()
        #expect(received == Array(0..<200))
    }

    @Test func closingFromTheConsumerSideStopsTheProducer() {
        let queue = FrameQueue<Int>(capacity: 2)
        let stoppedAt = Atomic<Int>(-1)
        let done = DispatchSemaphore(value: 0)
        Thread {
            for i in 0..<1000 where !queue.push(i) {
                stoppedAt.store(i, ordering: .sequentiallyConsistent)
                break
            }
            done.signal()
        }.start()
        _ = queue.pop()
        queue.close()
        done.wait()
        #expect(stoppedAt.load(ordering: .sequentiallyConsistent) >= 0 && stoppedAt.load(ordering: .sequentiallyConsistent) < 10)
    }
}

@Suite struct OutputFolderTests {
    func root() -> String {
        let r = NSTemporaryDirectory() + "snna-outfolder-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: r, withIntermediateDirectories: true)
        return r
    }

    @Test func commitReplacesThePreviousResultAtomicallyAndLeavesNoTemporaries() throws {
        let r = root()
        do {
            let first = try OutputFolder(root: r, name: "clip")
            try Data("one".utf8).write(to: URL(fileURLWithPath: first.path("a.txt")))
            #expect(!FileManager.default.fileExists(atPath: r + "/clip"))
            try first.commit()
        }
        do {
            let second = try OutputFolder(root: r, name: "clip")
            try Data("two".utf8).write(to: URL(fileURLWithPath: second.path("b.txt")))
            // The old result stays visible and whole until the new one replaces it.
            #expect(FileManager.default.fileExists(atPath: r + "/clip/a.txt"))
            try second.commit()
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: r).filter { !$0.hasSuffix(".lock") }
        #expect(entries == ["clip"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: r + "/clip").sorted() == [OutputFolder.markerName, "b.txt"])
    }

    @Test func aFolderIsNeverReplacedByAnotherInputsResult() throws {
        let r = root()
        do {
            let first = try OutputFolder(root: r, name: "clip-1", identity: "fingerprint-A")
            try Data("A".utf8).write(to: URL(fileURLWithPath: first.path("a.txt")))
            try first.commit()
        }
        #expect(OutputFolder.identity(of: r + "/clip-1") == "fingerprint-A" && OutputFolder.isMarked(r + "/clip-1"))
        let other = try OutputFolder(root: r, name: "clip-1", identity: "fingerprint-B")
        try Data("B".utf8).write(to: URL(fileURLWithPath: other.path("b.txt")))
        #expect(throws: PipelineError.self) { try other.commit() }
        other.abandon()
        #expect(FileManager.default.fileExists(atPath: r + "/clip-1/a.txt"))
        // The same input again replaces its own result.
        let same = try OutputFolder(root: r, name: "clip-1", identity: "fingerprint-A")
        try Data("A2".utf8).write(to: URL(fileURLWithPath: same.path("a2.txt")))
        try same.commit()
        #expect(FileManager.default.fileExists(atPath: r + "/clip-1/a2.txt"))
    }

    @Test func longNamesAreCutToFitNameMaxWithTheirSuffix() throws {
        let stem = String(repeating: "é", count: 125)   // 250 bytes
        let name = OutputFolder.name(stem: stem, suffix: "-0123456789abcdef")
        #expect(name.utf8.count <= OutputFolder.maxNameBytes && name.hasSuffix("-0123456789abcdef"))
        #expect(name.hasPrefix("éé") && String(name.dropLast(17)).allSatisfy { $0 == "é" })
        let r = root()
        let folder = try OutputFolder(root: r, name: name)
        try folder.commit()
        #expect(FileManager.default.fileExists(atPath: r + "/" + name))
        #expect(throws: PipelineError.self) { _ = try OutputFolder(root: r, name: stem + stem) }
    }

    @Test func abandoningDeletesEverythingAndASecondWriterIsRefused() throws {
        let r = root()
        let folder = try OutputFolder(root: r, name: "x")
        #expect(throws: PipelineError.self) { _ = try OutputFolder(root: r, name: "x") }
        try Data("partial".utf8).write(to: URL(fileURLWithPath: folder.path("p.txt")))
        folder.abandon()
        let entries = try FileManager.default.contentsOfDirectory(atPath: r).filter { !$0.hasSuffix(".lock") }
        #expect(entries.isEmpty)
    }

    @Test func outputNamesAreTheFileStem() {
        #expect(VideoProcessor.outputName(for: "/data/cam/2026_1127_0815.MP4") == "2026_1127_0815")
        #expect(VideoProcessor.outputName(for: "clip.tar.ts") == "clip.tar")
        #expect(VideoProcessor.outputName(for: "noext") == "noext")
    }
}
