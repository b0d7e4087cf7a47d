import SNNAModelImport

/// Writes the checkpoint archive around a fuzzed pickle: STORED entries as `torch.save` lays them out.
enum StoredZip {
    /// Storages "0"…"3" of 16, 6, 4 and 1 elements' worth of bytes (64, 12, 8 and 1), so that float32, float16,
    /// int64 and uint8 storages of the right numel all exist; their contents vary (a NaN, an infinity, negatives).
    static let storages: [(key: String, bytes: [UInt8])] = [
        ("0", (0..<16).flatMap { i -> [UInt8] in
            let v: Float = i == 5 ? .nan : i == 9 ? -.infinity : Float(i) - 7.5
            return withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init)
        }),
        ("1", [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x7C, 0x01, 0x00, 0xFF, 0x7B, 0x00, 0x80]),
        ("2", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("3", [0x01]),
    ]

    static func checkpoint(pickle: [UInt8]) -> [UInt8] {
        var files: [(String, [UInt8])] = [("archive/data.pkl", pickle)]
        for s in storages { files.append(("archive/data/\(s.key)", s.bytes)) }
        files.append(("archive/version", Array("3\n".utf8)))
        files.append(("archive/byteorder", Array("little".utf8)))
        return archive(files)
    }

    static func archive(_ files: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ to: inout [UInt8]) { to += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: UInt32, _ to: inout [UInt8]) { for i in 0..<4 { to.append(UInt8(v >> (8 * UInt32(i)) & 0xFF)) } }
        for (name, data) in files {
            let nameBytes = Array(name.utf8)
            let crc = ZipCRC32.checksum(data)
            let offset = UInt32(out.count)
            u32(0x0403_4b50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
            u32(crc, &out); u32(UInt32(data.count), &out); u32(UInt32(data.count), &out)
            u16(nameBytes.count, &out); u16(0, &out)
            out += nameBytes
            out += data
            u32(0x0201_4b50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central)
            u32(crc, &central); u32(UInt32(data.count), &central); u32(UInt32(data.count), &central)
            u16(nameBytes.count, &central); u16(0, &central); u16(0, &central); u16(0, &central); u16(0, &central)
            u32(0, &central); u32(offset, &central)
            central += nameBytes
        }
        let cdOffset = UInt32(out.count)
        out += central
        u32(0x0605_4b50, &out); u16(0, &out); u16(0, &out); u16(files.count, &out); u16(files.count, &out)
        u32(UInt32(central.count), &out); u32(cdOffset, &out); u16(0, &out)
        return out
    }
}
