import Glibc

/// Byte-level checks of container structure that FFmpeg's demuxers do not report: where a box, element
/// or packet claims more bytes than the file holds, the file was cut off.
///
/// Public so that the fuzz target (Fuzz/, a separate package) can reach it: these checks read untrusted files.
public enum ContainerCheck {
    /// A reason when the file's top-level structure runs past its end; nil when it looks whole or unknown.
    public static func truncation(path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        guard fseeko(file, 0, SEEK_END) == 0 else { return nil }
        let size = Int64(ftello(file))
        let head = read(file, at: 0, count: 200)
        guard head.count >= 8 else { return nil }
        if head[0] == 0x1A && head[1] == 0x45 && head[2] == 0xDF && head[3] == 0xA3 {
            return matroskaTruncation(file, size: size)
        }
        if Array(head[0..<4]) == Array("RIFF".utf8) {
            let riffSize = Int64(head[4]) | Int64(head[5]) << 8 | Int64(head[6]) << 16 | Int64(head[7]) << 24
            return 8 + riffSize > size ? "the RIFF chunk declares \(8 + riffSize) bytes, the file has \(size)" : nil
        }
        if head.count >= 189 && head[0] == 0x47 && head[188] == 0x47 {
            return size % 188 != 0 ? "the last MPEG-TS packet is incomplete" : nil
        }
        if head.count >= 197 && head[4] == 0x47 && head[196] == 0x47 {
            return size % 192 != 0 ? "the last M2TS packet is incomplete" : nil
        }
        if isISOBMFF(head) {
            var result: String?
            walkBoxes(file, size: size) { type, start, length in
                // Compared as `length > remaining`: a 64-bit largesize near Int64.max must not overflow the sum.
                if length > size - start {
                    result = "the '\(type)' box at byte \(start) needs \(length) bytes, only \(size - start) remain"
                }
            }
            return result
        }
        return nil
    }

    /// An ISO BMFF file (MP4/MOV) whose top level has no 'moov' box: a recording never finalised.
    public static func isISOBMFFWithoutMoov(path: String) -> Bool {
        guard let file = fopen(path, "rb") else { return false }
        defer { fclose(file) }
        guard fseeko(file, 0, SEEK_END) == 0 else { return false }
        let size = Int64(ftello(file))
        guard isISOBMFF(read(file, at: 0, count: 8)) else { return false }
        var hasMoov = false
        walkBoxes(file, size: size) { type, _, _ in if type == "moov" { hasMoov = true } }
        return !hasMoov
    }

    private static func isISOBMFF(_ head: [UInt8]) -> Bool {
        guard head.count >= 8 else { return false }
        let type = String(decoding: head[4..<8], as: UTF8.self)
        return ["ftyp", "styp", "moov", "mdat", "free", "wide", "skip", "moof"].contains(type)
    }

    /// Calls `body(type, start, length)` for each top-level box; stops at the first box that leaves the file.
    private static func walkBoxes(_ file: UnsafeMutablePointer<FILE>, size: Int64,
                                  _ body: (String, Int64, Int64) -> Void) {
        var offset: Int64 = 0
        var count = 0
        while size - offset >= 8 && count < 1_000_000 {
            count += 1
            let header = read(file, at: offset, count: 16)
            guard header.count >= 8 else { return }
            var length = Int64(header[0]) << 24 | Int64(header[1]) << 16 | Int64(header[2]) << 8 | Int64(header[3])
            // Past the last real box (trailing padding or garbage) the "type" is not text: stop there.
            guard header[4..<8].allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0xA9 }) else { return }
            let type = String(decoding: header[4..<8], as: UTF8.self)
            if length == 1 {
                guard header.count >= 16 else { body(type, offset, 16); return }
                // A largesize past Int64.max (top bit set) is no real box: reading it as UInt64 keeps the shift in range.
                let large = header[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard large <= UInt64(Int64.max) else { body(type, offset, Int64.max); return }
                length = Int64(large)
            } else if length == 0 {
                length = size - offset  // "to the end of the file"
            }
            guard length >= 8 else { return }
            body(type, offset, length)
            if length > size - offset { return }
            offset += length
        }
    }

    private static func matroskaTruncation(_ file: UnsafeMutablePointer<FILE>, size: Int64) -> String? {
        var offset: Int64 = 0
        // EBML header, then the Segment.
        guard let ebml = element(file, at: offset), let headerSize = ebml.size else { return nil }
        offset = ebml.dataStart + headerSize
        guard let segment = element(file, at: offset), segment.id == 0x1853_8067 else { return nil }
        if let declared = segment.size, segment.dataStart + declared > size {
            return "the Matroska segment declares \(segment.dataStart + declared) bytes, the file has \(size)"
        }
        let end = segment.size.map { min(size, segment.dataStart + $0) } ?? size
        offset = segment.dataStart
        var count = 0
        while offset < end && count < 10_000_000 {
            count += 1
            guard let child = element(file, at: offset) else {
                return "the Matroska element at byte \(offset) is cut off"
            }
            guard let length = child.size else { return nil }  // unknown size (live recording): cannot tell
            if child.dataStart + length > size {
                return "the Matroska element at byte \(offset) needs \(child.dataStart + length - offset) bytes, only \(size - offset) remain"
            }
            offset = child.dataStart + length
        }
        return nil
    }

    /// An EBML element header: id (with its length marker), data size (nil = unknown) and where the data starts.
    private static func element(_ file: UnsafeMutablePointer<FILE>, at offset: Int64)
        -> (id: UInt32, size: Int64?, dataStart: Int64)? {
        let bytes = read(file, at: offset, count: 12)
        guard let first = bytes.first, first != 0 else { return nil }
        let idLength = first.leadingZeroBitCount + 1
        guard idLength <= 4, bytes.count > idLength else { return nil }
        let id = bytes[0..<idLength].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let sizeFirst = bytes[idLength]
        guard sizeFirst != 0 else { return nil }
        let sizeLength = sizeFirst.leadingZeroBitCount + 1
        guard bytes.count >= idLength + sizeLength else { return nil }
        var value = Int64(sizeFirst & (0xFF >> sizeLength))
        var allOnes = value == Int64(0xFF >> sizeLength)
        for byte in bytes[(idLength + 1)..<(idLength + sizeLength)] {
            value = value << 8 | Int64(byte)
            allOnes = allOnes && byte == 0xFF
        }
        return (id, allOnes ? nil : value, offset + Int64(idLength + sizeLength))
    }

    private static func read(_ file: UnsafeMutablePointer<FILE>, at offset: Int64, count: Int) -> [UInt8] {
        guard fseeko(file, off_t(offset), SEEK_SET) == 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
        return Array(buffer[0..<got])
    }
}
