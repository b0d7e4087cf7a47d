import Foundation
import SNNAKernels
import SNNAModel
import Testing

// MARK: - Helpers

/// A fresh temporary folder per test, removed afterwards.
private func withTempDir(_ body: (String) throws -> Void) throws {
    let dir = NSTemporaryDirectory() + "snna-safetensors-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

private func le16(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

private func leF32(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
}

/// A file built by hand: length prefix (the header's true length unless overridden), header text, data bytes.
private func rawFile(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    return le64(declaredLength ?? UInt64(h.count)) + h + data
}

private func save(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

private func load(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Writes `bytes` to a file, opens it (and, with `readAll`, reads every tensor as floats), and checks that a
/// `SafeTensorsError` is thrown whose message names the file and contains every one of `needles`.
private func expectRejected(_ bytes: [UInt8], _ needles: [String], readAll: Bool = false,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    try withTempDir { dir in
        let path = dir + "/bad.safetensors"
        try save(bytes, path)
        do {
            let file = try SafeTensorsFile(path: path)
            if readAll { for name in file.names { _ = try file.floats(name) } }
            Issue.record("expected a SafeTensorsError mentioning \(needles), but the file was accepted",
                         sourceLocation: sourceLocation)
        } catch let error as SafeTensorsError {
            #expect(error.message.contains(path), "message does not name the file: \(error.message)",
                    sourceLocation: sourceLocation)
            for needle in needles {
                #expect(error.message.contains(needle), "'\(needle)' not in: \(error.message)",
                        sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
    }
}

private func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

// MARK: - Round trips

@Suite struct SafeTensorsTests {
    @Test func f32RoundTripWithMetadataAndOddShapes() throws {
        try withTempDir { dir in
            let path = dir + "/model.safetensors"
            let tensors: [(name: String, shape: [Int], values: [Float])] = [
                ("blocks.0.weight", [2, 3], [1, -2, 3.5, -0.0, .infinity, Float(bitPattern: 0x0000_02CA)]),
                ("scalar", [], [42.25]),
                ("empty", [0, 4], []),
                ("a \"quoted\" \\ name", [5], [0.1, 0.2, 0.3, -.greatestFiniteMagnitude, .leastNormalMagnitude]),
                ("ones", [1, 1, 1], [7]),
            ]
            let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t é ∑ \u{01}"]
            try SafeTensorsWriter.write(tensors: tensors, metadata: metadata, to: path)

            let file = try SafeTensorsFile(path: path)
            #expect(file.path == path)
            #expect(file.metadata == metadata)
            #expect(file.names == tensors.map(\.name).sorted())
            for t in tensors {
                let info = try #require(file.tensors[t.name])
                #expect(info.name == t.name)
                #expect(info.dtype == .f32)
                #expect(info.shape == t.shape)
                #expect(info.elementCount == t.values.count)
                #expect(info.dataRange.count == 4 * t.values.count)
                #expect(sameBits(try file.floats(t.name), t.values), "tensor \(t.name)")
            }

            // Layout: header padded with spaces to a multiple of 8, tensors contiguous in the given order.
            let bytes = try load(path)
            let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            #expect(n % 8 == 0)
            let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
            #expect(header.hasPrefix("{"))
            #expect(header.trimmingCharacters(in: .init(charactersIn: " ")).hasSuffix("}"))
            var expectedBegin = 8 + n
            for t in tensors {
                let range = file.tensors[t.name]!.dataRange
                #expect(range.lowerBound == expectedBegin, "tensor \(t.name) is not contiguous")
                expectedBegin = range.upperBound
            }
            #expect(expectedBegin == bytes.count)
            // Written atomically: nothing but the final file is left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        }
    }

    @Test func writerReplacesAnExistingFileAndWritesNoMetadataKeyWhenEmpty() throws {
        try withTempDir { dir in
            let path = dir + "/m.safetensors"
            try SafeTensorsWriter.write(tensors: [("x", [3], [1, 2, 3])], metadata: ["a": "b"], to: path)
            try SafeTensorsWriter.write(tensors: [("y", [1], [9])], metadata: [:], to: path)
            let file = try SafeTensorsFile(path: path)
            #expect(file.names == ["y"])
            #expect(file.metadata.isEmpty)
            #expect(try file.floats("y") == [9])
            #expect(!String(decoding: try load(path), as: UTF8.self).contains("__metadata__"))
        }
    }

    @Test func f16RoundTripOfExactlyRepresentableValues() throws {
        try withTempDir { dir in
            let path = dir + "/half.safetensors"
            let values: [Float] = [1, -2.5, 0.333251953125, 65504, -65504, 0x1p-24, 0x1p-14, 0x1.ff8p-15, 0, -0.0,
                                   .infinity, -.infinity]
            try SafeTensorsWriter.write(tensors: [("h", [2, 6], values)], metadata: [:], to: path, precision: .f16)
            let file = try SafeTensorsFile(path: path)
            let info = try #require(file.tensors["h"])
            #expect(info.dtype == .f16)
            #expect(info.dataRange.count == 2 * values.count)
            #expect(sameBits(try file.floats("h"), values))
        }
    }

    @Test func bf16RoundTripOfExactlyRepresentableValues() throws {
        try withTempDir { dir in
            let path = dir + "/bf.safetensors"
            let values: [Float] = [1, -2.5, 0.333984375, 0x1.fep127, Float(bitPattern: 0x0001_0000), 0x1p-100,
                                   -0.0, .infinity, -.infinity, 3]
            try SafeTensorsWriter.write(tensors: [("b", [10], values)], metadata: ["k": "v"], to: path, precision: .bf16)
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors["b"]?.dtype == .bf16)
            #expect(file.tensors["b"]?.dataRange.count == 20)
            #expect(sameBits(try file.floats("b"), values))
            // Rounding on write is to nearest: 1/3 becomes the nearest bfloat16, 0.333984375.
            try SafeTensorsWriter.write(tensors: [("b", [1], [1.0 / 3.0])], metadata: [:], to: path, precision: .bf16)
            #expect(try SafeTensorsFile(path: path).floats("b") == [0.333984375])
        }
    }

    @Test func knownBitPatternsInHandBuiltFiles() throws {
        try withTempDir { dir in
            let path = dir + "/bits.safetensors"
            let f16: [UInt16] = [0x3C00, 0xC000, 0x7C00, 0xFC00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x8000, 0x3555, 0x7E00]
            let bf16: [UInt16] = [0x3F80, 0xC000, 0x7F80, 0x0001]
            let header = #"{"h":{"dtype":"F16","shape":[11],"data_offsets":[0,22]},"# +
                #""b":{"shape":[2,2],"data_offsets":[22,30],"dtype":"BF16"},"# +
                #""f":{"dtype":"F32","shape":[],"data_offsets":[30,34]}}"#
            try save(rawFile(header: header, data: le16(f16) + le16(bf16) + leF32([-1.5])), path)
            let file = try SafeTensorsFile(path: path)
            let h = try file.floats("h")
            #expect(Array(h[0..<10]) == [1, -2, .infinity, -.infinity, 0x1p-24, 0x1.ff8p-15, 0x1p-14, 65504, -0.0,
                                         0.333251953125])
            #expect(h[8].sign == .minus)
            #expect(h[10].isNaN)
            #expect(sameBits(try file.floats("b"), [1, -2, .infinity, Float(bitPattern: 0x0001_0000)]))
            #expect(try file.floats("f") == [-1.5])
            #expect(file.tensors["f"]?.elementCount == 1)
            #expect(file.tensors["b"]?.dataRange == (8 + header.utf8.count + 22)..<(8 + header.utf8.count + 30))
        }
    }

    // MARK: - Half-precision conversion

    @Test func f16WideningIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let sign: Double = bits & 0x8000 != 0 ? -1 : 1
            let exponent = Int(bits >> 10) & 0x1F
            let mantissa = Double(bits & 0x3FF)
            let value = HalfPrecision.f16ToFloat(bits)
            if exponent == 0x1F {
                #expect(mantissa == 0 ? value == Float(sign * .infinity) : value.isNaN, "bits \(bits)")
                continue
            }
            let expected = exponent == 0 ? sign * mantissa * 0x1p-24 : sign * (1024 + mantissa) * pow(2, Double(exponent - 25))
            #expect(Double(value) == expected && value.sign == (sign < 0 ? .minus : .plus), "bits \(bits)")
            #expect(HalfPrecision.floatToF16(value) == bits, "round trip of bits \(bits)")
        }
    }

    @Test func bf16WideningIsExactAndNarrowingRoundTripsEveryBitPattern() {
        for bits in 0...UInt16.max {
            let value = HalfPrecision.bf16ToFloat(bits)
            #expect(value.bitPattern == UInt32(bits) << 16)
            if value.isNaN {
                #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(value)).isNaN)
            } else {
                #expect(HalfPrecision.floatToBF16(value) == bits, "round trip of bits \(bits)")
            }
        }
    }

    @Test func narrowingRoundsToNearestEven() {
        // F16: spacing 2^-10 just above 1.
        #expect(HalfPrecision.floatToF16(1 + 0x1p-11) == 0x3C00)  // tie → even (down)
        #expect(HalfPrecision.floatToF16(1 + 3 * 0x1p-11) == 0x3C02)  // tie → even (up)
        #expect(HalfPrecision.floatToF16(1 + 0x1p-11 + 0x1p-20) == 0x3C01)  // above the tie
        #expect(HalfPrecision.floatToF16(65519) == 0x7BFF)
        #expect(HalfPrecision.floatToF16(65520) == 0x7C00)  // tie between 65504 and 65536 → infinity
        #expect(HalfPrecision.floatToF16(1e10) == 0x7C00)
        #expect(HalfPrecision.floatToF16(-1e10) == 0xFC00)
        #expect(HalfPrecision.floatToF16(0x1p-25) == 0x0000)  // tie → even (zero)
        #expect(HalfPrecision.floatToF16(0x1.000002p-25) == 0x0001)
        #expect(HalfPrecision.floatToF16(3 * 0x1p-25) == 0x0002)  // subnormal tie → even (up)
        #expect(HalfPrecision.floatToF16(0x1.ffcp-15) == 0x0400)  // rounds up out of the subnormals
        #expect(HalfPrecision.floatToF16(-1e-30) == 0x8000)
        #expect(HalfPrecision.floatToF16(.leastNonzeroMagnitude) == 0x0000)
        #expect(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(.nan)).isNaN)
        #expect(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(Float(bitPattern: 0x7F80_0001))).isNaN)  // low payload
        // BF16: spacing 2^-7 just above 1.
        #expect(HalfPrecision.floatToBF16(1 + 0x1p-8) == 0x3F80)
        #expect(HalfPrecision.floatToBF16(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(HalfPrecision.floatToBF16(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(HalfPrecision.floatToBF16(.greatestFiniteMagnitude) == 0x7F80)  // above the largest bfloat16's tie
        #expect(HalfPrecision.floatToBF16(-.greatestFiniteMagnitude) == 0xFF80)
        #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    // MARK: - Writer errors

    @Test func writerRejectsBadInputAndLeavesNoFile() throws {
        try withTempDir { dir in
            let path = dir + "/w.safetensors"
            let cases: [([(name: String, shape: [Int], values: [Float])], String)] = [
                ([("a", [2, 2], [1, 2, 3])], "'a'"),
                ([("a", [1], [1]), ("a", [1], [2])], "duplicate tensor name 'a'"),
                ([("n", [-1, -1], [1])], "negative"),
                ([("__metadata__", [1], [1])], "__metadata__"),
                ([("big", [Int.max, 4], [])], "overflows"),
            ]
            for (tensors, needle) in cases {
                do {
                    try SafeTensorsWriter.write(tensors: tensors, metadata: [:], to: path)
                    Issue.record("writing \(tensors.map(\.name)) should fail with '\(needle)'")
                } catch let error as SafeTensorsError {
                    #expect(error.message.contains(needle) && error.message.contains(path), "\(error.message)")
                }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
            #expect(throws: SafeTensorsError.self) {
                try SafeTensorsWriter.write(tensors: [("x", [1], [1])], metadata: [:], to: dir + "/missing/dir/x")
            }
        }
    }

    // MARK: - Malformed files

    @Test func missingShortAndEmptyHeaderFiles() throws {
        try withTempDir { dir in
            #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: dir + "/nope.safetensors") }
            #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: dir) }  // a directory
        }
        try expectRejected([1, 2, 3], ["shorter than the 8-byte"])
        try expectRejected(le64(0) + Array("{}".utf8), ["header length is 0"])
    }

    @Test func truncatedFile() throws {
        try withTempDir { dir in
            let path = dir + "/full.safetensors"
            try SafeTensorsWriter.write(tensors: [("w", [64], (0..<64).map(Float.init)), ("z", [8], Array(repeating: 1, count: 8))],
                                        metadata: ["m": "x"], to: path)
            let bytes = try load(path)
            try expectRejected(Array(bytes[0..<(bytes.count / 2)]), ["'w'", "truncated"])
            // Cut inside the header.
            try expectRejected(Array(bytes[0..<20]), ["header length", "truncated"])
            // A file that shrinks after its header was validated: reading fails cleanly.
            let file = try SafeTensorsFile(path: path)
            try save(Array(bytes[0..<(bytes.count - 4)]), path)
            #expect(try file.floats("w").count == 64)
            #expect(throws: SafeTensorsError.self) { try file.floats("z") }
        }
    }

    @Test func headerLengthLargerThanFile() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        try expectRejected(rawFile(header: header, data: [0, 0, 0, 0], declaredLength: 1000), ["header length 1000", "truncated"])
    }

    @Test func headerLengthAbsurd() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        try expectRejected(rawFile(header: header, data: [0, 0, 0, 0], declaredLength: 1 << 62),
                           ["header length \(UInt64(1) << 62)", "limit"])
        try expectRejected(rawFile(header: header, declaredLength: UInt64.max), ["header length \(UInt64.max)"])
    }

    @Test func garbageJSON() throws {
        try expectRejected(rawFile(header: "{not json at all"), ["not valid JSON"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0]),
                           ["not valid JSON"])  // missing closing brace
        try expectRejected(rawFile(header: #"{} trailing"#), ["not valid JSON"])
        try expectRejected(rawFile(header: #"{"__metadata__":{"a":"\x"}}"#), ["not valid JSON", "escape"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                           ["not valid JSON", "'w'"])  // leading zero
        try expectRejected(rawFile(header: "        "), ["not a JSON object"])
    }

    @Test func invalidUTF8InHeader() throws {
        let header = Array(#"{"a"#.utf8) + [0xC3, 0x28] + Array(#"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#.utf8)
        try expectRejected(le64(UInt64(header.count)) + header, ["UTF-8"])
        try expectRejected(le64(4) + [0x7B, 0x7D, 0xC3, 0x20], ["not valid JSON"])  // stray byte outside strings
    }

    @Test func jsonArrayInsteadOfObject() throws {
        try expectRejected(rawFile(header: #"[{"dtype":"F32","shape":[1],"data_offsets":[0,4]}]"#, data: [0, 0, 0, 0]),
                           ["not a JSON object", "array"])
    }

    @Test func entryThatIsNotAnObject() throws {
        try expectRejected(rawFile(header: #"{"w":[1,2,3]}"#), ["entry for tensor 'w' is not an object"])
        try expectRejected(rawFile(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                           ["tensor 'w' has no dtype"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: [0, 0, 0, 0]),
                           ["data_offsets of tensor 'w'", "two integers"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                           ["dtype of tensor 'w' must be a string"])
    }

    @Test func unknownDType() throws {
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                           ["unknown dtype 'F8_E4M3' for tensor 'w'"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                           ["unknown dtype 'f32' for tensor 'w'"])
    }

    @Test func negativeAndNonIntegerShapes() throws {
        let data = [UInt8](repeating: 0, count: 16)
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}"#, data: data),
                           ["shape of tensor 'w'", "-2"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2.0,2],"data_offsets":[0,16]}}"#, data: data),
                           ["shape of tensor 'w'", "2.0"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[4e0],"data_offsets":[0,16]}}"#, data: data),
                           ["shape of tensor 'w'", "4e0"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[true,4],"data_offsets":[0,16]}}"#, data: data),
                           ["shape of tensor 'w'", "boolean"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":"4","data_offsets":[0,16]}}"#, data: data),
                           ["shape of tensor 'w'", "string"])
        let manyOnes = Array(repeating: "1", count: 2000).joined(separator: ",")
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[\#(manyOnes)],"data_offsets":[0,4]}}"#, data: data),
                           ["shape of tensor 'w'", "more than 1024"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16,16]}}"#, data: data),
                           ["data_offsets of tensor 'w'", "more than 2"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[-1,15]}}"#, data: data),
                           ["data_offsets of tensor 'w'", "-1"])
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}"#, data: data),
                           ["data_offsets [16, 0] of tensor 'w'"])
    }

    @Test func shapeWhoseProductOverflows() throws {
        // 2^32 · 2^32 overflows Int; each factor alone is a valid integer.
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#),
                           ["tensor 'w'", "overflows"])
        // Product fits, bytes overflow.
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#),
                           ["tensor 'w'", "needs more than"])
        // Fits in Int but not in the file.
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#,
                                   data: [0, 0, 0, 0]), ["tensor 'w'", "data section has only 4"])
        // Beyond Int: rejected as an out-of-range number, not trapped on.
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#,
                                   data: [0, 0, 0, 0]), ["shape of tensor 'w'", "99999999999999999999"])
    }

    @Test func offsetsPastTheEnd() throws {
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: [UInt8](repeating: 0, count: 8)),
                           ["data_offsets [4, 12] of tensor 'w'", "past the end"])
    }

    @Test func offsetsThatDisagreeWithTheShape() throws {
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, data: [UInt8](repeating: 0, count: 12)),
                           ["tensor 'w'", "span 12 bytes", "needs 8"])
    }

    @Test func overlappingRanges() throws {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"# +
            #""z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"# +
            #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        try expectRejected(rawFile(header: header, data: [UInt8](repeating: 0, count: 16)), ["'a'", "'b'", "overlapping"])
        // The same tensors laid end to end are fine, and so is an empty tensor inside another's range.
        let good = header.replacingOccurrences(of: "[8,16]", with: "[12,20]")
        try withTempDir { dir in
            try save(rawFile(header: good, data: [UInt8](repeating: 0, count: 20)), dir + "/ok.safetensors")
            #expect(try SafeTensorsFile(path: dir + "/ok.safetensors").names == ["a", "b", "z"])
        }
    }

    @Test func metadataWithNonStringValue() throws {
        try expectRejected(rawFile(header: #"{"__metadata__":{"format":"pt","version":3}}"#),
                           ["__metadata__ key 'version'", "non-string"])
        try expectRejected(rawFile(header: #"{"__metadata__":["pt"]}"#), ["__metadata__ must be an object"])
        try expectRejected(rawFile(header: #"{"__metadata__":{"a":"1","a":"2"}}"#), ["duplicate __metadata__ key 'a'"])
    }

    @Test func duplicateTensorName() throws {
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let data: [UInt8] = [0, 0, 0, 0]
        try expectRejected(rawFile(header: #"{"w":\#(entry),"w":\#(entry)}"#, data: data), ["duplicate tensor name 'w'"])
        // The same name spelled with an escape is still the same name.
        try expectRejected(rawFile(header: #"{"w":\#(entry),"\u0077":\#(entry)}"#, data: data), ["duplicate tensor name 'w'"])
        // A quote escaped inside a key does not end it: these are two different names (disjoint data).
        let other = #"{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#
        try withTempDir { dir in
            try save(rawFile(header: #"{"w\"x":\#(entry),"w":\#(other)}"#, data: data + data), dir + "/ok.safetensors")
            #expect(try SafeTensorsFile(path: dir + "/ok.safetensors").names == ["w", "w\"x"])
        }
        try expectRejected(rawFile(header: #"{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#, data: data),
                           ["tensor 'w'", "duplicate 'dtype'"])
    }

    @Test func floatsOfAnIntegerTensor() throws {
        let header = #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#
        try expectRejected(rawFile(header: header, data: le64(7) + le64(9)), ["tensor 'ids'", "I64"], readAll: true)
        try withTempDir { dir in
            let path = dir + "/i.safetensors"
            try save(rawFile(header: header, data: le64(7) + le64(9)), path)
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors["ids"]?.dtype == .i64)
            #expect(throws: SafeTensorsError.self) { try file.floats("nope") }
        }
    }

    @Test func deepNestingInAnUnknownFieldDoesNotExhaustTheStack() throws {
        let depth = 200_000
        let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let header = #"{"w":{"dtype":"F32","extra":\#(nested),"shape":[1],"data_offsets":[0,4]}}"#
        try withTempDir { dir in
            try save(rawFile(header: header, data: leF32([2.5])), dir + "/deep.safetensors")
            #expect(try SafeTensorsFile(path: dir + "/deep.safetensors").floats("w") == [2.5])
        }
        let unbalanced = #"{"w":{"dtype":"F32","extra":\#(String(repeating: "[{\"k\":", count: depth)),"shape":[1]}}"#
        try expectRejected(rawFile(header: unbalanced), ["not valid JSON", "'w'"])
    }

    // MARK: - Random mutations

    @Test func randomMutationsNeverCrash() throws {
        try withTempDir { dir in
            // Every dtype path: F32 (matrix and scalar), F16, BF16 and an integer tensor, plus metadata.
            let header = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"# +
                #""s":{"dtype":"F32","shape":[],"data_offsets":[24,28]},"h":{"dtype":"F16","shape":[4],"data_offsets":[28,36]},"# +
                #""b":{"dtype":"BF16","shape":[2,1],"data_offsets":[36,40]},"i":{"dtype":"I64","shape":[1],"data_offsets":[40,48]}}"#
            let data = leF32([1, 2, 3, 4, 5, 6, 0.5]) + le16([0x3C00, 0xC000, 0x7C00, 0x0001]) + le16([0x3F80, 0x4000]) + le64(3)
            let base = rawFile(header: header, data: data)
            try save(base, dir + "/base.safetensors")
            #expect(try SafeTensorsFile(path: dir + "/base.safetensors").floats("h") == [1, -2, .infinity, 0x1p-24])
            let headerEnd = 8 + Int(base[0]) + Int(base[1]) << 8
            let significant = Array(#"{}[]":,-0123456789.eE\ "#.utf8) + [0x00, 0xFF, 0xC3]
            var rng = SeededRandom(seed: 0x5AFE_7E45)
            var accepted = 0, rejected = 0
            let mutated = dir + "/mutated.safetensors"
            for _ in 0..<300 {
                var bytes = base
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    switch Int.random(in: 0..<6, using: &rng) {
                    case 0:  // flip a bit anywhere
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                    case 1:  // a JSON-significant byte in the header
                        bytes[Int.random(in: 8..<headerEnd, using: &rng)] = significant.randomElement(using: &rng)!
                    case 2:  // a different digit in the header (shapes and offsets that lie)
                        let digits = (8..<headerEnd).filter { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
                        if let i = digits.randomElement(using: &rng) { bytes[i] = UInt8.random(in: 0x30...0x39, using: &rng) }
                    case 3:  // a random byte of the length prefix
                        bytes[Int.random(in: 0..<8, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    case 4:  // a random byte in the data section (any bit pattern must convert)
                        bytes[Int.random(in: headerEnd..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    default:  // a random byte in the header
                        bytes[Int.random(in: 8..<headerEnd, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                }
                if Int.random(in: 0..<8, using: &rng) == 0 {  // and sometimes truncate
                    bytes.removeLast(Int.random(in: 1..<bytes.count, using: &rng))
                }
                try save(bytes, mutated)
                do {
                    let file = try SafeTensorsFile(path: mutated)
                    // Whatever was accepted must be self-consistent.
                    let ranges = file.tensors.values.map(\.dataRange).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
                    for r in ranges { #expect(r.lowerBound >= 8 && r.upperBound <= bytes.count) }
                    for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound <= b.lowerBound) }
                    for name in file.names {
                        let info = file.tensors[name]!
                        #expect(info.dataRange.count == info.elementCount * info.dtype.byteSize)
                        do {
                            #expect(try file.floats(name).count == info.elementCount)
                        } catch is SafeTensorsError {
                            #expect(![.f32, .f16, .bf16].contains(info.dtype))
                        }
                    }
                    accepted += 1
                } catch is SafeTensorsError {
                    rejected += 1
                }
            }
            // The mutations exercise both outcomes.
            #expect(accepted > 10)
            #expect(rejected > 100)
        }
    }
}
