import Foundation
import Testing
@testable import SNNAService

@Suite struct JobStoreSameContentTests {
    @Test func identicalContentNeverRunsTwiceAtOnceAndIsSkippedOnceDone() throws {
        let folder = NSTemporaryDirectory() + "snna-store-same-\(UInt32.random(in: 0...UInt32.max))"
        let store = try JobStore(folder: folder)
        let a = try #require(try store.enqueue(path: "/in/a.mp4", size: 10, mtime: 1, fingerprint: "f"))
        _ = try #require(try store.enqueue(path: "/in/copy-of-a.mp4", size: 10, mtime: 2, fingerprint: "f"))
        let first = try #require(try store.claimNext())
        #expect(first.id == a.id)
        #expect(try store.claimNext() == nil, "the copy must wait while its twin runs")
        try store.markDone(first.id!, outputFolder: "/out/a")
        #expect(try store.claimNext() == nil, "the copy is already done")
        #expect(try store.counts()[.skipped] == 1)
        #expect(try store.isDone(path: "/in/a.mp4", size: 10, mtime: 1))
        #expect(try !store.isDone(path: "/in/a.mp4", size: 11, mtime: 1))
    }
}
