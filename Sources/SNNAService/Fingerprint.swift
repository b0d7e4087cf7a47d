import Crypto
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content fingerprint that makes "exactly once" work: the file size plus SHA-256 (swift-crypto) of the size, the
/// first and last 1 MiB and 16 evenly spaced 64 KiB samples in between (the whole file when it is no bigger than that).
/// Reads at most 3 MiB whatever the file size, and changes when the content changes in practice (a dashcam file
/// that is rewritten, appended to or truncated changes its size, its tail or its samples). A cryptographic hash, so
/// two different recordings never share a fingerprint by accident, and the 64 bits of it in an output folder's name
/// (`shortID`) cannot collide in any real archive.
/// Format: `<size in hex>-<64 hex digits>`.
public enum Fingerprint {
    static let edgeBytes = 1 << 20      // first and last 1 MiB
    static let sampleBytes = 64 << 10   // 64 KiB samples
    static let sampleCount = 16

    /// The byte ranges (offset, length) hashed for a file of `size` bytes, in order.
    static func regions(size: Int64) -> [(offset: Int64, length: Int)] {
        let edge = Int64(edgeBytes), sample = Int64(sampleBytes)
        let wholeLimit = 2 * edge + Int64(sampleCount) * sample
        if size <= wholeLimit {
            if size == 0 { return [] }
            return [(offset: Int64(0), length: Int(size))]
        }
        var out: [(offset: Int64, length: Int)] = [(offset: Int64(0), length: edgeBytes)]
        let middleStart = edge, middleLength = size - 2 * edge   // > 16 samples
        let span = middleLength - sample
        for i in 0..<sampleCount {
            out.append((middleStart + span * Int64(i) / Int64(sampleCount - 1), sampleBytes))
        }
        out.append((size - edge, edgeBytes))
        return out
    }

    /// The offsets of the 16 middle samples for a file of `size` bytes (empty when the whole file is hashed).
    static func sampleOffsets(size: Int64) -> [Int64] {
        let r = regions(size: size)
        return r.count == sampleCount + 2 ? r[1...sampleCount].map(\.offset) : []
    }

    /// The fingerprint of the regular file at `path`. A FIFO, socket or device is refused without ever being read
    /// (opened non-blocking, without following a symlink, and checked with fstat on the descriptor itself).
    public static func of(path: String) throws -> String {
        let fd: Int32, st: stat
        do { (fd, st) = try RegularFile.open(path: path) } catch let e as RegularFileError {
            throw StoreError("cannot fingerprint \(path): \(e.reason)")
        }
        defer { close(fd) }
        let size = Int64(st.st_size)

        var hasher = SHA256()
        // The size goes in first, so files differing only past the sampled regions still differ when sizes do.
        withUnsafeBytes(of: size.littleEndian) { hasher.update(bufferPointer: $0) }
        let plan = regions(size: size)
        // One buffer as large as the largest region: the whole-file case hashes up to 3 MiB in one region.
        var buffer = [UInt8](repeating: 0, count: plan.map(\.length).max() ?? 0)
        for region in plan {
            let got = try buffer.withUnsafeMutableBytes { raw -> Int in
                precondition(region.length <= raw.count)
                var done = 0
                while done < region.length {
                    let n = pread(fd, raw.baseAddress! + done, region.length - done, off_t(region.offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw StoreError("cannot read \(path): \(String(cString: strerror(errno)))")
                    }
                    if n == 0 { break }   // the file shrank while we read it: hash what is there
                    done += n
                }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[0..<done]))
                return done
            }
            if got < region.length { break }
        }
        let digest = hasher.finalize().map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
        return String(size, radix: 16) + "-" + digest
    }

    /// 64 bits of the fingerprint's hash (16 hex digits), for output folder names.
    public static func shortID(_ fingerprint: String) -> String {
        let hash = fingerprint.split(separator: "-").last.map(String.init) ?? fingerprint
        return String(hash.prefix(16))
    }
}
