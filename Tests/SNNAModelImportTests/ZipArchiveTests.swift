import Testing
@testable import SNNAModelImport

typealias ZI = TorchCheckpointFixture.ZipItem

func expectImportError(_ fragment: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected an ImportError containing '\(fragment)'", sourceLocation: sourceLocation)
    } catch let e as ImportError {
        #expect(e.message.contains(fragment), "message: \(e.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ImportError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ZipArchiveTests {
    let items = [ZI(name: "top/a.txt", data: Array("hello".utf8)), ZI(name: "top/data/0", data: (0 ..< 300).map { UInt8($0 & 0xFF) }),
                 ZI(name: "top/empty", data: [])]

    @Test func crcKnownValue() {
        #expect(ZipCRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(ZipCRC32.checksum([]) == 0)
        let long = (0 ..< 1000).map { UInt8(($0 * 7) & 0xFF) }
        #expect(ZipCRC32.checksum(long) == TorchCheckpointFixture.crc32(long))
    }

    @Test(arguments: [false, true]) func roundTrip(zip64: Bool) throws {
        let bytes = TorchCheckpointFixture.zipArchive(items, zip64: zip64)
        let z = try ZipArchive(bytes: bytes, label: "t.zip")
        #expect(z.names == ["top/a.txt", "top/data/0", "top/empty"])
        #expect(try z.data("top/a.txt") == Array("hello".utf8))
        #expect(try z.data("top/data/0") == items[1].data)
        #expect(try z.data("top/empty") == [])
        #expect(z.entry("top/data/0")?.size == 300)
        #expect(z.entry("nope") == nil)
        expectImportError("no zip entry 'nope'") { _ = try z.data("nope") }
    }

    @Test func unalignedAndCommentedArchive() throws {
        var bytes = TorchCheckpointFixture.zipArchive(items, align: 1)
        // Add an archive comment: patch the EOCD comment length.
        let comment = Array("a comment".utf8)
        bytes[bytes.count - 2] = UInt8(comment.count)
        bytes += comment
        let z = try ZipArchive(bytes: bytes)
        #expect(try z.data("top/a.txt") == Array("hello".utf8))
    }

    @Test func truncatedArchivesFail() {
        for zip64 in [false, true] {
            let bytes = TorchCheckpointFixture.zipArchive(items, zip64: zip64)
            for cut in [0, 1, 4, 21, 30, 60, bytes.count / 2, bytes.count - 60, bytes.count - 23, bytes.count - 1] where cut < bytes.count {
                do {
                    let z = try ZipArchive(bytes: Array(bytes[..<cut]), label: "cut.zip")
                    for n in z.names { _ = try z.data(n) }
                    Issue.record("truncation at \(cut) (zip64 \(zip64)) was accepted")
                } catch let e as ImportError {
                    #expect(e.message.hasPrefix("cut.zip: "))
                } catch { Issue.record("unexpected \(error)") }
            }
        }
    }

    @Test func deflateEntryIsRejectedClearly() throws {
        let z = try ZipArchive(bytes: TorchCheckpointFixture.zipArchive([ZI(name: "x/data.pkl", data: [1, 2, 3], method: 8)]))
        expectImportError("compression method 8") { _ = try z.data("x/data.pkl") }
    }

    @Test func duplicateNamesRejected() {
        let bytes = TorchCheckpointFixture.zipArchive([ZI(name: "a/b", data: [1]), ZI(name: "a/b", data: [2])])
        expectImportError("duplicate zip entry name 'a/b'") { _ = try ZipArchive(bytes: bytes) }
    }

    @Test func crcMismatchRejected() throws {
        let z = try ZipArchive(bytes: TorchCheckpointFixture.zipArchive([ZI(name: "a/b", data: [1, 2, 3], crc: 0x1234_5678)]),
                               label: "crc.zip")
        expectImportError("crc.zip: CRC mismatch in zip entry 'a/b'") { _ = try z.data("a/b") }
    }

    @Test func unsafeNamesRejected() {
        for name in ["../evil", "a/../../b", "/abs", "a\\b"] {
            expectImportError("unsafe zip entry name") { _ = try ZipArchive(bytes: TorchCheckpointFixture.zipArchive([ZI(name: name, data: [1])])) }
        }
    }

    @Test func absurdCountsAndSizesRejected() {
        let bytes = TorchCheckpointFixture.zipArchive(items, align: 1)
        let eocd = bytes.count - 22
        // Entry count far above what the central directory can hold.
        var b = bytes
        b[eocd + 8] = 0xFE; b[eocd + 9] = 0xFF; b[eocd + 10] = 0xFE; b[eocd + 11] = 0xFF
        expectImportError("entries but its central directory has only") { _ = try ZipArchive(bytes: b) }
        // A central-directory offset beyond the file.
        b = bytes
        b[eocd + 19] = 0x7F
        expectImportError("central directory") { _ = try ZipArchive(bytes: b) }
        // An entry size beyond the file (sizes in the first central header, at cd + 20 / 24).
        b = bytes
        let cd = Int(b[eocd + 16]) | Int(b[eocd + 17]) << 8
        for o in [20, 24] { b[cd + o + 3] = 0x40 }
        expectImportError("exceeds the file size") { _ = try ZipArchive(bytes: b) }
        // ZIP64: more than 100k entries declared.
        var z = TorchCheckpointFixture.zipArchive(items, zip64: true)
        let rec = z.count - 22 - 20 - 56
        z[rec + 26] = 0x10; z[rec + 34] = 0x10  // 0x10_0000 + 3 entries on disk and total
        expectImportError("limit 100000") { _ = try ZipArchive(bytes: z) }
    }

    @Test func overlappingStoredEntriesCountAgainstTheFileSize() {
        // Many central entries pointing at one big local entry: their total exceeds the file (a zip bomb).
        let big = [UInt8](repeating: 7, count: 4000)
        var bytes = TorchCheckpointFixture.zipArchive([ZI(name: "a/0", data: big)], align: 1)
        // A central directory with 3 entries that all reference the local entry at offset 0.
        let cdStart = 30 + 3 + 4000
        bytes.removeSubrange(cdStart...)
        let crc = TorchCheckpointFixture.crc32(big)
        for _ in 0 ..< 3 {
            let name = Array("a/0".utf8)
            var h: [UInt8] = [0x50, 0x4b, 1, 2, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]
            withUnsafeBytes(of: crc.littleEndian) { h += $0 }
            withUnsafeBytes(of: UInt32(4000).littleEndian) { h += $0; h += $0 }
            h += [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            bytes += h + name
        }
        let cdSize = bytes.count - cdStart
        bytes += [0x50, 0x4b, 5, 6, 0, 0, 0, 0, 3, 0, 3, 0]
        withUnsafeBytes(of: UInt32(cdSize).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(cdStart).littleEndian) { bytes += $0 }
        bytes += [0, 0]
        expectImportError("more bytes in total than the file holds") { _ = try ZipArchive(bytes: bytes) }
    }
}
