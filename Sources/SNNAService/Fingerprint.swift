#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast content fingerprint for large video files: the file size plus a 64-bit FNV-1a hash of the first and last
/// 1 MiB and of 16 evenly spaced 64 KiB samples in between (the whole file when it is no bigger than that).
/// Reads at most 3 MiB whatever the file size, and changes when the content changes in practice (a dashcam file
/// that is rewritten, appended to or truncated changes its size, its tail or its samples).
/// Format: `<size in hex>-<16 hex digits>`, e.g. `2f5a10-9c1e0d4b7a3f2210`.
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

    public static func of(path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError("cannot fingerprint \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw StoreError("cannot fingerprint \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StoreError("cannot fingerprint \(path): not a regular file") }
        let size = Int64(st.st_size)

        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        // Mix the size in first, so files differing only past the sampled regions still differ when sizes do.
        withUnsafeBytes(of: size.littleEndian) { hash = fnv1a(hash, $0) }
        var buffer = [UInt8](repeating: 0, count: edgeBytes)
        for region in regions(size: size) {
            let got = try buffer.withUnsafeMutableBytes { raw -> Int in
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
                hash = fnv1a(hash, UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[0..<done]))
                return done
            }
            if got < region.length { break }
        }
        return String(size, radix: 16) + "-" + hex16(hash)
    }

    @inline(__always)
    static func fnv1a(_ seed: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
