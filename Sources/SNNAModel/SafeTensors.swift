#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A hardened reader for the safetensors container format:
//
//     [8 bytes: header length N, little-endian UInt64]
//     [N bytes: UTF-8 JSON object]   name → {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
//                                    optional "__metadata__": {string: string}
//     [data section]                 offsets are relative to its start
//
// The header is parsed by a small, schema-directed JSON reader (below) rather than a general JSON library, so that
// every number is seen exactly as written (1.0, true and 1e3 are not dimensions), duplicate keys are detected instead
// of silently collapsed, nesting cannot exhaust the stack, and memory stays proportional to the (bounded) header.
// Nothing is ever allocated from a size the file merely claims: the header length is checked against the file size
// and `maxHeaderBytes` before it is read, and every tensor's byte count is overflow-checked and bounded by the data
// section before anything is read.

/// The element types of the safetensors format that this reader understands.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// One tensor's entry in a validated header.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Absolute byte offsets of the tensor's data in the file (header and length prefix included).
    public let dataRange: Range<Int>

    /// The number of elements: the product of `shape` (1 for a scalar, shape `[]`).
    /// Validated not to overflow when the header was read, in any order of the dimensions (a zero among them included).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Every failure of the safetensors reader and writer. The message names the file and the offending tensor or key.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// A safetensors file whose header has been read and validated. Tensor data is read on demand.
public struct SafeTensorsFile: Sendable {
    public let path: String
    public let metadata: [String: String]
    /// Tensors by name.
    public let tensors: [String: SafeTensorInfo]
    /// Tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The largest header accepted (the official implementation's limit).
    public static let maxHeaderBytes = 100 << 20

    /// Reads and validates the header. Does not read tensor data.
    public init(path: String) throws {
        self.path = path
        let file = try SafeTensorsIO.openForReading(path)
        defer { _ = close(file.fd) }
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError("safetensors file '\(path)': \(problem)") }

        let fileSize = file.size
        guard fileSize >= 8 else {
            throw fail("file is only \(fileSize) bytes, shorter than the 8-byte header length (truncated file?)")
        }
        var prefix = [UInt8](repeating: 0, count: 8)
        try SafeTensorsIO.readExactly(fd: file.fd, into: &prefix, at: 0, path: path)
        var declared: UInt64 = 0
        for (i, byte) in prefix.enumerated() { declared |= UInt64(byte) << (8 * UInt64(i)) }
        guard declared > 0 else { throw fail("header length is 0") }
        guard declared <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(declared) exceeds the limit of \(Self.maxHeaderBytes) bytes")
        }
        guard declared <= UInt64(fileSize - 8) else {
            throw fail("header length \(declared) exceeds the \(fileSize - 8) bytes after the length prefix (truncated file?)")
        }
        let headerLength = Int(declared)
        var header = [UInt8](repeating: 0, count: headerLength)
        try SafeTensorsIO.readExactly(fd: file.fd, into: &header, at: 8, path: path)

        let dataStart = 8 + headerLength
        let parsed = try SafeTensorsHeader.parse(header, dataSize: fileSize - dataStart, dataStart: dataStart, fail: fail)
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors
    }

    /// Reads one tensor as `Float`s: F32 as stored, F16 and BF16 widened exactly. Other dtypes are an error.
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensors[name] else {
            throw SafeTensorsError("safetensors file '\(path)': no tensor named '\(name)'")
        }
        let count = info.elementCount
        switch info.dtype {
        case .f32:
            var out = [Float](repeating: 0, count: count)
            if count > 0 { try read(info, into: &out) }
            #if _endian(big)
            for i in out.indices { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
            return out
        case .f16, .bf16:
            var raw = [UInt16](repeating: 0, count: count)
            if count > 0 { try read(info, into: &raw) }
            if info.dtype == .f16 {
                return raw.map { HalfPrecision.f16ToFloat(UInt16(littleEndian: $0)) }
            }
            return raw.map { HalfPrecision.bf16ToFloat(UInt16(littleEndian: $0)) }
        default:
            throw SafeTensorsError("safetensors file '\(path)': tensor '\(name)' has dtype \(info.dtype.rawValue); "
                + "only F32, F16 and BF16 tensors can be read as floats")
        }
    }

    /// Reads exactly `info.dataRange` into `buffer`, whose byte size must equal the range's length.
    private func read<T>(_ info: SafeTensorInfo, into buffer: inout [T]) throws {
        let file = try SafeTensorsIO.openForReading(path)
        defer { _ = close(file.fd) }
        guard file.size >= info.dataRange.upperBound else {
            throw SafeTensorsError("safetensors file '\(path)': file shrank to \(file.size) bytes since its header "
                + "was read; tensor '\(info.name)' needs bytes \(info.dataRange) (truncated file?)")
        }
        try buffer.withUnsafeMutableBytes { bytes in
            precondition(bytes.count == info.dataRange.count)
            try SafeTensorsIO.readExactly(fd: file.fd, into: bytes, at: info.dataRange.lowerBound, path: path)
        }
    }
}

// MARK: - File I/O

enum SafeTensorsIO {
    struct OpenFile {
        let fd: Int32
        let size: Int
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Opens a regular file read-only and returns its descriptor and size.
    static func openForReading(_ path: String) throws -> OpenFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SafeTensorsError("safetensors file '\(path)': cannot open: \(errnoText())")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let text = errnoText()
            _ = close(fd)
            throw SafeTensorsError("safetensors file '\(path)': cannot stat: \(text)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            _ = close(fd)
            throw SafeTensorsError("safetensors file '\(path)': not a regular file")
        }
        return OpenFile(fd: fd, size: Int(info.st_size))
    }

    static func readExactly(fd: Int32, into array: inout [UInt8], at offset: Int, path: String) throws {
        try array.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: offset, path: path) }
    }

    /// `pread`s exactly `buffer.count` bytes starting at `offset`, retrying short reads and interrupts.
    static func readExactly(fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError("safetensors file '\(path)': read failed at byte \(offset + done): \(errnoText())")
            }
            if n == 0 {
                throw SafeTensorsError("safetensors file '\(path)': file ended at byte \(offset + done), expected "
                    + "\(buffer.count - done) more bytes (truncated file?)")
            }
            done += n
        }
    }
}

// MARK: - Header validation

enum SafeTensorsHeader {
    struct Parsed {
        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensorInfo] = [:]
    }

    static func parse(_ header: [UInt8], dataSize: Int, dataStart: Int,
                      fail: (String) -> SafeTensorsError) throws -> Parsed {
        var parser = HeaderJSON(bytes: header)
        var result = Parsed()
        var seenKeys = Set<String>()
        var sawMetadata = false
        var ordered: [SafeTensorInfo] = []
        // Which key was being read when a JSON syntax error happened, for the message.
        var context = "at the top level"

        do {
            parser.skipWhitespace()
            guard parser.peek == UInt8(ascii: "{") else {
                throw fail("header is not a JSON object (it starts with \(parser.describeNext()))")
            }
            try parser.objectMembers { parser, key in
                if key == "__metadata__" {
                    context = "in __metadata__"
                    guard !sawMetadata else { throw fail("duplicate key '__metadata__'") }
                    sawMetadata = true
                    result.metadata = try parseMetadata(&parser, fail: fail)
                } else {
                    context = "in the entry for tensor '\(key)'"
                    guard seenKeys.insert(key).inserted else { throw fail("duplicate tensor name '\(key)'") }
                    let info = try parseTensor(&parser, name: key, dataSize: dataSize, dataStart: dataStart, fail: fail)
                    ordered.append(info)
                }
                context = "after '\(key)'"
            }
            parser.skipWhitespace()
            guard parser.atEnd else {
                throw HeaderJSON.Failure(message: "unexpected \(parser.describeNext()) after the header object",
                                         offset: parser.position)
            }
        } catch let failure as HeaderJSON.Failure {
            throw fail("header is not valid JSON (\(context)): \(failure.message) at header byte \(failure.offset)")
        }

        // No two tensors may share bytes (empty tensors occupy none).
        let occupied = ordered.filter { !$0.dataRange.isEmpty }.sorted {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound)
        }
        var previous: SafeTensorInfo?
        for info in occupied {
            if let prev = previous, info.dataRange.lowerBound < prev.dataRange.upperBound {
                throw fail("tensors '\(prev.name)' and '\(info.name)' have overlapping data ranges "
                    + "\(relative(prev, dataStart)) and \(relative(info, dataStart))")
            }
            if previous == nil || info.dataRange.upperBound > previous!.dataRange.upperBound { previous = info }
        }
        for info in ordered { result.tensors[info.name] = info }
        return result
    }

    private static func relative(_ info: SafeTensorInfo, _ dataStart: Int) -> String {
        "[\(info.dataRange.lowerBound - dataStart), \(info.dataRange.upperBound - dataStart)]"
    }

    private static func parseMetadata(_ parser: inout HeaderJSON, fail: (String) -> SafeTensorsError) throws -> [String: String] {
        guard parser.peek == UInt8(ascii: "{") else {
            throw fail("__metadata__ must be an object of strings, found \(parser.describeNext())")
        }
        var metadata: [String: String] = [:]
        try parser.objectMembers { parser, key in
            guard parser.peek == UInt8(ascii: "\"") else {
                throw fail("__metadata__ key '\(key)' has a non-string value (\(parser.describeNext()))")
            }
            let value = try parser.parseString()
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw fail("duplicate __metadata__ key '\(key)'")
            }
        }
        return metadata
    }

    private static func parseTensor(_ parser: inout HeaderJSON, name: String, dataSize: Int, dataStart: Int,
                                    fail: (String) -> SafeTensorsError) throws -> SafeTensorInfo {
        guard parser.peek == UInt8(ascii: "{") else {
            throw fail("entry for tensor '\(name)' is not an object (found \(parser.describeNext()))")
        }
        var dtype: SafeTensorsDType?
        var shape: [Int]?
        var offsets: [Int]?
        var fields = Set<String>()
        try parser.objectMembers { parser, field in
            guard fields.insert(field).inserted else {
                throw fail("tensor '\(name)' has a duplicate '\(field)' field")
            }
            switch field {
            case "dtype":
                guard parser.peek == UInt8(ascii: "\"") else {
                    throw fail("dtype of tensor '\(name)' must be a string, found \(parser.describeNext())")
                }
                let text = try parser.parseString()
                guard let known = SafeTensorsDType(rawValue: text) else {
                    throw fail("unknown dtype '\(text)' for tensor '\(name)'")
                }
                dtype = known
            case "shape":
                shape = try parseIntegers(&parser, what: "shape of tensor '\(name)'", limit: maxRank, fail: fail)
            case "data_offsets":
                let pair = try parseIntegers(&parser, what: "data_offsets of tensor '\(name)'", limit: 2, fail: fail)
                guard pair.count == 2 else {
                    throw fail("data_offsets of tensor '\(name)' must be two integers [begin, end], found \(pair.count)")
                }
                offsets = pair
            default:
                try parser.skipValue()  // tolerated, like the official reader
            }
        }
        guard let dtype else { throw fail("tensor '\(name)' has no dtype") }
        guard let shape else { throw fail("tensor '\(name)' has no shape") }
        guard let offsets else { throw fail("tensor '\(name)' has no data_offsets") }

        // Element and byte counts, overflow-checked and bounded by the data section.
        // The product of the non-zero dimensions must fit too, even when a zero makes the tensor empty: then any
        // partial product of the shape fits, so `elementCount` and every later product over the shape are safe
        // (a [2^62, 4, 0] shape used to pass here and trap in `elementCount`: Tests/SNNAModelTests/FuzzRegressionTests).
        var nonZero = 1
        for dim in shape where dim != 0 {
            let (product, overflow) = nonZero.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw fail("shape \(shape) of tensor '\(name)' is too large: its element count overflows")
            }
            nonZero = product
        }
        let elements = shape.contains(0) ? 0 : nonZero
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, byteCount <= dataSize else {
            throw fail("tensor '\(name)' (\(dtype.rawValue), shape \(shape)) needs \(overflow ? "more than \(Int.max)" : "\(byteCount)") "
                + "bytes but the data section has only \(dataSize) (truncated file?)")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw fail("data_offsets [\(begin), \(end)] of tensor '\(name)' begin after they end")
        }
        guard end <= dataSize else {
            throw fail("data_offsets [\(begin), \(end)] of tensor '\(name)' extend past the end of the "
                + "\(dataSize)-byte data section (truncated file?)")
        }
        guard end - begin == byteCount else {
            throw fail("data_offsets [\(begin), \(end)] of tensor '\(name)' span \(end - begin) bytes, but dtype "
                + "\(dtype.rawValue) with shape \(shape) needs \(byteCount) bytes")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape,
                              dataRange: (dataStart + begin)..<(dataStart + end))
    }

    /// An array of non-negative integers written as plain JSON integers (no fractions, exponents or booleans).
    /// No real tensor has this many dimensions; the cap keeps a hostile header from growing a huge shape array.
    static let maxRank = 1024

    private static func parseIntegers(_ parser: inout HeaderJSON, what: String, limit: Int,
                                      fail: (String) -> SafeTensorsError) throws -> [Int] {
        guard parser.peek == UInt8(ascii: "[") else {
            throw fail("\(what) must be an array of non-negative integers, found \(parser.describeNext())")
        }
        var values: [Int] = []
        try parser.arrayElements { parser in
            guard values.count < limit else {
                throw fail("\(what) has more than \(limit) entries")
            }
            guard parser.nextIsNumber else {
                throw fail("\(what) must contain only non-negative integers, found \(parser.describeNext())")
            }
            switch try parser.parseNumber() {
            case .integer(let value) where value >= 0:
                values.append(value)
            case .integer(let value):
                throw fail("\(what) must contain only non-negative integers, found \(value)")
            case .other(let text):
                throw fail("\(what) must contain only non-negative integers, found \(text)")
            }
        }
        return values
    }
}
