#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only ZIP archive held in memory, as `torch.save` (≥ 1.6) writes it: STORED entries, optionally ZIP64.
///
/// Everything is validated before use: the end-of-central-directory record (and the ZIP64 locator and record), every
/// central-directory header, every local header, offsets and sizes against the file, entry count, total declared size,
/// duplicate and unsafe names. Compressed entries are rejected (no inflater is linked). `data(_:)` checks the CRC-32.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// Compression method from the central directory (0 = STORED).
        public let method: UInt16
        public let crc32: UInt32
        public let compressedSize: Int
        /// Size of the entry's bytes once read.
        public let size: Int
        /// Offset of the entry's data (just past its local header) in the archive.
        public let dataOffset: Int
    }

    /// Hard caps against malformed or hostile archives.
    public static let maxEntries = 100_000
    public static let maxNameLength = 4096

    /// The name used in error messages (the path, or a label for in-memory archives).
    public let label: String
    public let bytes: [UInt8]
    public let entries: [Entry]
    private let index: [String: Int]

    /// Entry names in central-directory order.
    public var names: [String] { entries.map(\.name) }

    public init(path: String) throws {
        try self.init(bytes: try ZipArchive.readFile(path), label: path)
    }

    public init(bytes: [UInt8], label: String = "<memory>") throws {
        let parsed = try ZipParser(bytes: bytes, label: label).parse()
        var index: [String: Int] = [:]
        index.reserveCapacity(parsed.count)
        for (i, e) in parsed.enumerated() {
            if index[e.name] != nil { throw ImportError("\(label): duplicate zip entry name '\(e.name)'") }
            index[e.name] = i
        }
        self.bytes = bytes
        self.label = label
        self.entries = parsed
        self.index = index
    }

    public func entry(_ name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// The bytes of one entry, after checking its CRC-32.
    public func data(_ name: String) throws -> [UInt8] {
        guard let e = entry(name) else { throw ImportError("\(label): no zip entry '\(name)'") }
        return try data(e)
    }

    public func data(_ e: Entry) throws -> [UInt8] {
        guard e.method == 0 else {
            throw ImportError("\(label): zip entry '\(e.name)' uses compression method \(e.method); only STORED (0) is supported")
        }
        let slice = Array(bytes[e.dataOffset ..< e.dataOffset + e.size])
        let crc = ZipCRC32.checksum(slice)
        guard crc == e.crc32 else {
            throw ImportError("\(label): CRC mismatch in zip entry '\(e.name)' (stored \(zipHex(e.crc32)), computed \(zipHex(crc)))")
        }
        return slice
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw ImportError("\(path): cannot open file") }
        defer { fclose(f) }
        guard fseeko(f, 0, SEEK_END) == 0 else { throw ImportError("\(path): cannot seek") }
        let size = ftello(f)
        guard size >= 0, fseeko(f, 0, SEEK_SET) == 0 else { throw ImportError("\(path): cannot determine file size") }
        guard size < Int64(1) << 40 else { throw ImportError("\(path): file too large (\(size) bytes)") }
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = out.withUnsafeMutableBytes { fread($0.baseAddress, 1, Int(size), f) }
        guard n == Int(size) else { throw ImportError("\(path): short read (\(n) of \(size) bytes)") }
        return out
    }
}

func zipHex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

/// Bounds-checked little-endian reader over the archive bytes.
struct ZipReader {
    let bytes: [UInt8]
    let label: String

    func check(_ offset: Int, _ count: Int, _ what: String) throws {
        guard offset >= 0, count >= 0, let end = offset.torchAdding(count), end <= bytes.count else {
            throw ImportError("\(label): truncated zip: \(what) at offset \(offset) (+\(count)) runs past the end of the file (\(bytes.count) bytes)")
        }
    }
    func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
    func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
}

extension Int {
    func torchAdding(_ other: Int) -> Int? {
        let (r, o) = addingReportingOverflow(other)
        return o ? nil : r
    }
    func torchMultiplied(_ other: Int) -> Int? {
        let (r, o) = multipliedReportingOverflow(by: other)
        return o ? nil : r
    }
}

private struct ZipParser {
    let r: ZipReader
    var label: String { r.label }
    var count: Int { r.bytes.count }

    init(bytes: [UInt8], label: String) { r = ZipReader(bytes: bytes, label: label) }

    func toInt(_ v: UInt64, _ what: String) throws -> Int {
        guard v <= UInt64(count) else {
            throw ImportError("\(label): zip \(what) \(v) exceeds the file size (\(count) bytes)")
        }
        return Int(v)
    }

    func parse() throws -> [ZipArchive.Entry] {
        guard count >= 22 else { throw ImportError("\(label): truncated zip: \(count) bytes is too short for an end-of-central-directory record") }
        // Find the EOCD record scanning back over a possible comment (≤ 65535 bytes).
        var eocd = -1
        var p = count - 22
        let lowest = max(0, count - 22 - 65535)
        while p >= lowest {
            if r.bytes[p] == 0x50, r.bytes[p + 1] == 0x4b, r.bytes[p + 2] == 5, r.bytes[p + 3] == 6,
               p + 22 + Int(r.u16(p + 20)) <= count { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw ImportError("\(label): not a zip archive or truncated (no end-of-central-directory record)") }
        let diskNo = r.u16(eocd + 4), cdDisk = r.u16(eocd + 6)
        var entriesOnDisk = UInt64(r.u16(eocd + 8)), totalEntries = UInt64(r.u16(eocd + 10))
        var cdSize = UInt64(r.u32(eocd + 12)), cdOffset = UInt64(r.u32(eocd + 16))
        var multiDisk = diskNo != 0 || cdDisk != 0
        let needs64 = entriesOnDisk == 0xFFFF || totalEntries == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF
        var cdLimit = eocd  // the central directory must end before this offset
        if eocd >= 20, r.u32(eocd - 20) == 0x0706_4b50 {
            let loc = eocd - 20
            let recOffset = try toInt(r.u64(loc + 8), "ZIP64 end-of-central-directory offset")
            if r.u32(loc + 4) != 0 || r.u32(loc + 16) > 1 { multiDisk = true }
            try r.check(recOffset, 56, "ZIP64 end-of-central-directory record")
            guard recOffset + 56 <= loc else { throw ImportError("\(label): ZIP64 end-of-central-directory record overlaps its locator") }
            guard r.u32(recOffset) == 0x0606_4b50 else {
                throw ImportError("\(label): bad ZIP64 end-of-central-directory signature at offset \(recOffset)")
            }
            if r.u32(recOffset + 16) != 0 || r.u32(recOffset + 20) != 0 { multiDisk = true }
            entriesOnDisk = r.u64(recOffset + 24)
            totalEntries = r.u64(recOffset + 32)
            cdSize = r.u64(recOffset + 40)
            cdOffset = r.u64(recOffset + 48)
            cdLimit = recOffset
        } else if needs64 {
            throw ImportError("\(label): zip needs ZIP64 fields but has no ZIP64 end-of-central-directory locator (truncated?)")
        }
        guard !multiDisk else { throw ImportError("\(label): multi-disk zip archives are not supported") }
        guard entriesOnDisk == totalEntries else { throw ImportError("\(label): inconsistent zip entry counts (\(entriesOnDisk) vs \(totalEntries))") }
        guard totalEntries <= UInt64(ZipArchive.maxEntries) else {
            throw ImportError("\(label): zip declares \(totalEntries) entries (limit \(ZipArchive.maxEntries))")
        }
        let n = Int(totalEntries)
        let cdStart = try toInt(cdOffset, "central directory offset")
        let cdLen = try toInt(cdSize, "central directory size")
        guard let cdEnd = cdStart.torchAdding(cdLen), cdEnd <= cdLimit else {
            throw ImportError("\(label): truncated zip: central directory (offset \(cdStart), \(cdLen) bytes) runs past its end record at \(cdLimit)")
        }
        guard n.torchMultiplied(46).map({ $0 <= cdLen }) ?? false else {
            throw ImportError("\(label): zip declares \(n) entries but its central directory has only \(cdLen) bytes")
        }

        var out: [ZipArchive.Entry] = []
        out.reserveCapacity(n)
        var totalSize = 0
        var p2 = cdStart
        for i in 0 ..< n {
            try r.check(p2, 46, "central directory header #\(i)")
            guard p2 + 46 <= cdEnd else { throw ImportError("\(label): central directory header #\(i) runs past the directory") }
            guard r.u32(p2) == 0x0201_4b50 else {
                throw ImportError("\(label): bad central directory signature for entry #\(i) at offset \(p2)")
            }
            let flags = r.u16(p2 + 8), method = r.u16(p2 + 10)
            let crc = r.u32(p2 + 16)
            var csize = UInt64(r.u32(p2 + 20)), usize = UInt64(r.u32(p2 + 24))
            let nameLen = Int(r.u16(p2 + 28)), extraLen = Int(r.u16(p2 + 30)), commentLen = Int(r.u16(p2 + 32))
            var diskStart = UInt64(r.u16(p2 + 34))
            var localOffset = UInt64(r.u32(p2 + 42))
            let varLen = nameLen + extraLen + commentLen
            guard p2 + 46 + varLen <= cdEnd else {
                throw ImportError("\(label): central directory header #\(i) (name/extra/comment) runs past the directory")
            }
            let nameBytes = Array(r.bytes[(p2 + 46) ..< (p2 + 46 + nameLen)])
            let name = try decodeName(nameBytes, i)
            // ZIP64 extended information: only the fields saturated in the header are present, in this order.
            var ep = p2 + 46 + nameLen
            let extraEnd = ep + extraLen
            while ep + 4 <= extraEnd {
                let id = r.u16(ep), len = Int(r.u16(ep + 2))
                guard ep + 4 + len <= extraEnd else { throw ImportError("\(label): malformed extra field in zip entry '\(name)'") }
                if id == 0x0001 {
                    var q = ep + 4
                    let qEnd = q + len
                    func next(_ what: String) throws -> UInt64 {
                        guard q + 8 <= qEnd else { throw ImportError("\(label): ZIP64 extra field of '\(name)' lacks the \(what)") }
                        defer { q += 8 }
                        return r.u64(q)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next("uncompressed size") }
                    if csize == 0xFFFF_FFFF { csize = try next("compressed size") }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next("local header offset") }
                    if diskStart == 0xFFFF {
                        guard q + 4 <= qEnd else { throw ImportError("\(label): ZIP64 extra field of '\(name)' lacks the disk number") }
                        diskStart = UInt64(r.u32(q))
                    }
                }
                ep += 4 + len
            }
            guard diskStart == 0 else { throw ImportError("\(label): zip entry '\(name)' is on disk \(diskStart) (multi-disk)") }
            guard flags & 1 == 0 else { throw ImportError("\(label): zip entry '\(name)' is encrypted") }
            let cs = try toInt(csize, "compressed size of '\(name)'")
            let us: Int
            if method == 0 {
                guard csize == usize else {
                    throw ImportError("\(label): STORED zip entry '\(name)' has compressed size \(csize) ≠ size \(usize)")
                }
                us = cs
            } else {
                // Never inflated; only recorded so that data() can name the method. Still must be plausible.
                guard usize <= UInt64(Int.max) else { throw ImportError("\(label): absurd size for zip entry '\(name)'") }
                us = Int(usize)
            }
            let lo = try toInt(localOffset, "local header offset of '\(name)'")
            try r.check(lo, 30, "local header of '\(name)'")
            guard r.u32(lo) == 0x0403_4b50 else {
                throw ImportError("\(label): bad local header signature for zip entry '\(name)' at offset \(lo)")
            }
            let lNameLen = Int(r.u16(lo + 26)), lExtraLen = Int(r.u16(lo + 28))
            try r.check(lo + 30, lNameLen + lExtraLen, "local header name/extra of '\(name)'")
            guard Array(r.bytes[(lo + 30) ..< (lo + 30 + lNameLen)]) == nameBytes else {
                throw ImportError("\(label): local header name of zip entry '\(name)' does not match the central directory")
            }
            guard r.u16(lo + 8) == method else {
                throw ImportError("\(label): local header method of zip entry '\(name)' does not match the central directory")
            }
            let dataOffset = lo + 30 + lNameLen + lExtraLen
            try r.check(dataOffset, cs, "data of zip entry '\(name)'")
            guard dataOffset + cs <= cdStart else {
                throw ImportError("\(label): data of zip entry '\(name)' overlaps the central directory")
            }
            if method == 0 {
                guard let t = totalSize.torchAdding(us), t <= count else {
                    throw ImportError("\(label): zip entries declare more bytes in total than the file holds (zip bomb?)")
                }
                totalSize = t
            }
            out.append(.init(name: name, method: method, crc32: crc, compressedSize: cs, size: us, dataOffset: dataOffset))
            p2 += 46 + varLen
        }
        return out
    }

    func decodeName(_ b: [UInt8], _ i: Int) throws -> String {
        guard !b.isEmpty, b.count <= ZipArchive.maxNameLength else { throw ImportError("\(label): zip entry #\(i) has an empty or overlong name") }
        guard !b.contains(0), let s = String(validating: b, as: UTF8.self) else {
            throw ImportError("\(label): zip entry #\(i) has a name that is not valid UTF-8")
        }
        if s.hasPrefix("/") || s.contains("\\") || s.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw ImportError("\(label): unsafe zip entry name '\(s)'")
        }
        return s
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), slicing-by-8.
public enum ZipCRC32 {
    static let table: [UInt32] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0 ..< 256 {
            var c = UInt32(i)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0 ..< 256 {
            for k in 1 ..< 8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t.flatMap { $0 }
    }()

    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBufferPointer { checksum($0, initial: initial) }
    }

    public static func checksum(_ b: UnsafeBufferPointer<UInt8>, initial: UInt32 = 0) -> UInt32 {
        return table.withUnsafeBufferPointer { t -> UInt32 in
            var c = ~initial
            var i = 0
            let n = b.count
            while i + 8 <= n {
                let lo = c ^ (UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
                let hi = UInt32(b[i + 4]) | UInt32(b[i + 5]) << 8 | UInt32(b[i + 6]) << 16 | UInt32(b[i + 7]) << 24
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(b[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            return ~c
        }
    }
}
