import Foundation
import Testing
@testable import SNNAModelImport

/// Seeded random mutation of checkpoint bytes: every outcome must be a value or an ImportError, never a crash,
/// and memory must stay bounded.
@Suite(.serialized) struct TorchFuzzTests {
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    static func rssKiB(_ field: String = "VmRSS") -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    static var corpus: [[UInt8]] {
        var c = [Fx.checkpoint(Fx.sample()), Fx.checkpoint(Fx.sample(), top: "stem", zip64: true)]
        if let a = try? ZipArchive.readFile(TorchCheckpointTests.authorsHead) { c.append(a) }
        return c
    }

    func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0 ... rng.below(6) {
            guard !b.isEmpty else { break }
            let region = rng.below(10)
            let pos: Int
            switch region {
            case 0 ..< 3: pos = rng.below(min(b.count, 128)) // local header / pickle start
            case 3 ..< 6: pos = b.count - 1 - rng.below(min(b.count, 400)) // central directory and end records
            default: pos = rng.below(b.count)
            }
            switch rng.below(12) {
            case 0: b.removeSubrange(min(pos, b.count - 1)...) // truncate
            case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
            case 2: b.remove(at: pos)
            case 3: b[pos] = 0xFF
            case 4: b[pos] = 0
            case 5: b[pos] ^= UInt8(1) << UInt8(rng.below(8))
            default: b[pos] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return b
    }

    func check(_ bytes: [UInt8], _ i: Int, _ stats: inout (ok: Int, failed: Int)) {
        do {
            let v = try TorchCheckpoint.load(bytes: bytes, label: "m\(i)")
            _ = v.description.count  // walk the whole value
            stats.ok += 1
        } catch is ImportError {
            stats.failed += 1
        } catch {
            Issue.record("iteration \(i): non-ImportError \(error)")
        }
    }

    @Test func randomZipMutationsNeverCrash() {
        let before = Self.rssKiB()
        var rng = SplitMix64(state: 0x5EED_0001)
        let corpus = Self.corpus
        var stats = (ok: 0, failed: 0)
        for i in 0 ..< 800 {
            check(mutate(corpus[i % corpus.count], &rng), i, &stats)
        }
        #expect(stats.ok + stats.failed == 800)
        #expect(stats.failed > 400)  // most mutations must be caught (CRC, headers)
        if let b = before, let a = Self.rssKiB() { #expect(a - b < 256 * 1024, "RSS grew from \(b) KiB to \(a) KiB") }
    }

    /// Mutates the pickle itself and re-zips it with a valid CRC, so the unpickler and tensor checks see the damage.
    @Test func randomPickleMutationsNeverCrash() {
        let before = Self.rssKiB()
        var rng = SplitMix64(state: 0x5EED_0002)
        var sources: [([UInt8], [(String, Fx.Storage)])] = [Fx.pickle(Fx.sample())]
        if let a = try? ZipArchive(path: TorchCheckpointTests.authorsHead) {
            let st = a.names.filter { $0.hasPrefix("archive/data/") }.map { n in
                (String(n.dropFirst("archive/data/".count)), Fx.Storage.f32((try? a.data(n))!.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }))
            }
            sources.append(((try? a.data("archive/data.pkl")) ?? [], st))
        }
        var stats = (ok: 0, failed: 0)
        for i in 0 ..< 800 {
            let (pkl, storages) = sources[i % sources.count]
            var m = pkl
            for _ in 0 ... rng.below(4) {
                let pos = rng.below(m.count)
                switch rng.below(6) {
                case 0: m.remove(at: pos)
                case 1: m.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                case 2: m[pos] = UInt8(rng.below(8)) // small lengths / ints
                default: m[pos] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            var items = [ZI(name: "archive/data.pkl", data: m)]
            items += storages.map { ZI(name: "archive/data/\($0.0)", data: $0.1.bytes) }
            check(Fx.zipArchive(items), i, &stats)
        }
        #expect(stats.ok + stats.failed == 800)
        #expect(stats.ok > 0 && stats.failed > 0)
        if let b = before, let a = Self.rssKiB() { #expect(a - b < 256 * 1024, "RSS grew from \(b) KiB to \(a) KiB") }
    }
}
