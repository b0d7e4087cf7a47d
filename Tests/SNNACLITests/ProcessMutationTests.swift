import Foundation
import SNNAKernels
import Testing

/// Issue 14: `snna process` on 300 seeded byte-mutations of a small real MP4 (and the crafted 32-byte file) ends with
/// status 0 or 1 and, on 1, exactly one `snna: error:` line — never a signal, never a hang.
@Suite("snna process on mutated files", .enabled(if: MediaTools.available, "ffmpeg and ffprobe are not on PATH"))
struct ProcessMutationTests {
    /// A number in 0..<n from the project's seeded generator, so a failing mutation is reproducible from its number.
    static func below(_ r: inout SeededRandom, _ n: Int) -> Int { Int(r.next() % UInt64(max(n, 1))) }

    /// Mutation `seed` of `original`: byte flips, a box size overwritten with an extreme value, a cut, or a splice.
    static func mutate(_ original: [UInt8], seed: UInt64) -> [UInt8] {
        var r = SeededRandom(seed: seed)
        var bytes = original
        switch below(&r, 4) {
        case 0:
            for _ in 0..<(1 + below(&r, 16)) { bytes[below(&r, bytes.count)] ^= UInt8(1 + below(&r, 255)) }
        case 1:
            // Box headers live at the start and around 'moov': overwrite a 4- or 8-byte big-endian size somewhere there.
            let extremes: [UInt64] = [0, 1, 7, 8, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, UInt64(bytes.count)]
            let value = extremes[below(&r, extremes.count)]
            let at = below(&r, min(bytes.count - 8, 4096))
            let width = below(&r, 2) == 0 ? 4 : 8
            for i in 0..<width { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(width - 1 - i))) }
        case 2:
            bytes = Array(bytes.prefix(below(&r, bytes.count)))
        default:
            let from = below(&r, bytes.count), to = below(&r, bytes.count), n = below(&r, 512)
            for i in 0..<n where from + i < bytes.count && to + i < bytes.count { bytes[to + i] = original[from + i] }
        }
        return bytes
    }

    @Test("300 mutations: exit 0 or 1 with one error line, never a signal")
    func mutations() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.4, size: "64x36", rate: 10) + MediaTools.x264,
                                             output: "seed.mp4", in: dir)
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
            var failures: [String] = []
            var outcomes = [Int32: Int]()
            for seed in UInt64(1)...300 {
                let path = "\(dir)/m\(seed).mp4"
                try Data(Self.mutate(original, seed: seed)).write(to: URL(fileURLWithPath: path))
                let run = try SNNA.run(["process", "--model", model, "--out", "\(dir)/out", "--explain-stride", "0",
                                        "--no-video", path], in: dir, timeout: 60)
                outcomes[run.status, default: 0] += 1
                let errors = run.err.split(separator: "\n").filter { $0.hasPrefix("snna: error:") }
                if !(run.status == 0 || (run.status == 1 && errors.count == 1)) {
                    failures.append("mutation \(seed): status \(run.status), stderr: \(run.err.suffix(400))")
                }
                try? FileManager.default.removeItem(atPath: path)
                try? FileManager.default.removeItem(atPath: "\(dir)/out")
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
            // Both kinds of outcome occur: the mutations exercise the decoder, not only the first check.
            #expect((outcomes[0] ?? 0) > 0 && (outcomes[1] ?? 0) > 0, "\(outcomes)")
        }
    }

    @Test("the crafted 32-byte file of issue 14 is a clear error, not SIGILL")
    func craftedLargesize() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            var bytes: [UInt8] = [0, 0, 0, 16] + Array("ftypisom".utf8) + [0, 0, 0, 0]
            bytes += [0, 0, 0, 1] + Array("mdat".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
            try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/crafted.mp4"))
            let run = try SNNA.run(["process", "--model", model, "--out", "\(dir)/out", "\(dir)/crafted.mp4"], in: dir)
            #expect(run.status == 1, "\(run)")
            #expect(run.err.split(separator: "\n").filter { $0.hasPrefix("snna: error:") }.count == 1, "\(run)")
        }
    }
}
