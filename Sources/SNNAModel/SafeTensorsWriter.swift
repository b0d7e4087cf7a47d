#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files: tensors in the given order, contiguous, with the header padded with spaces to a
/// multiple of 8 bytes (as the official implementation does). The file is written to `path + ".tmp-<pid>"` and
/// renamed over `path`, so readers never see a half-written file.
public enum SafeTensorsWriter {
    public enum Precision: Sendable {
        case f32, f16, bf16

        var dtype: SafeTensorsDType {
            switch self {
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            }
        }
    }

    public static func write(tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String],
                             to path: String, precision: Precision = .f32) throws {
        func fail(_ problem: String) -> SafeTensorsError {
            SafeTensorsError("safetensors writer '\(path)': \(problem)")
        }
        let dtype = precision.dtype

        // Validate everything before touching the file system.
        var seen = Set<String>()
        var offsets: [(begin: Int, end: Int)] = []
        var offset = 0
        for tensor in tensors {
            guard tensor.name != "__metadata__" else { throw fail("'__metadata__' is reserved and cannot name a tensor") }
            guard seen.insert(tensor.name).inserted else { throw fail("duplicate tensor name '\(tensor.name)'") }
            var elements = 1
            for dim in tensor.shape {
                guard dim >= 0 else { throw fail("shape \(tensor.shape) of tensor '\(tensor.name)' has a negative dimension") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw fail("shape \(tensor.shape) of tensor '\(tensor.name)' overflows") }
                elements = product
            }
            guard elements == tensor.values.count else {
                throw fail("shape \(tensor.shape) of tensor '\(tensor.name)' has \(elements) elements but "
                    + "\(tensor.values.count) values were given")
            }
            let (bytes, o1) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            let (end, o2) = offset.addingReportingOverflow(bytes)
            guard !o1, !o2 else { throw fail("tensor '\(tensor.name)' is too large") }
            offsets.append((offset, end))
            offset = end
        }

        // Header: compact JSON, metadata first (keys sorted for reproducible files), tensors in the given order.
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        for (tensor, range) in zip(tensors, offsets) {
            if !first { json += "," }
            first = false
            json += "\(jsonString(tensor.name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(range.begin),\(range.end)]}"
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        guard header.count <= SafeTensorsFile.maxHeaderBytes else {
            throw fail("header of \(header.count) bytes exceeds the \(SafeTensorsFile.maxHeaderBytes)-byte limit")
        }

        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create '\(temporary)': \(SafeTensorsIO.errnoText())") }
        var closed = false
        var renamed = false
        defer {
            if !closed { _ = close(fd) }
            if !renamed { _ = unlink(temporary) }
        }

        func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
            guard var base = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                let n = posixWrite(fd, base, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("write to '\(temporary)' failed: \(SafeTensorsIO.errnoText())")
                }
                base += n
                left -= n
            }
        }

        var lengthPrefix = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { lengthPrefix[i] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i))) }
        try lengthPrefix.withUnsafeBytes(writeAll)
        try header.withUnsafeBytes(writeAll)
        for tensor in tensors where !tensor.values.isEmpty {
            switch precision {
            case .f32:
                #if _endian(little)
                try tensor.values.withUnsafeBytes(writeAll)
                #else
                try tensor.values.map { $0.bitPattern.littleEndian }.withUnsafeBytes(writeAll)
                #endif
            case .f16:
                try tensor.values.map { HalfPrecision.floatToF16($0).littleEndian }.withUnsafeBytes(writeAll)
            case .bf16:
                try tensor.values.map { HalfPrecision.floatToBF16($0).littleEndian }.withUnsafeBytes(writeAll)
            }
        }
        guard fsync(fd) == 0 else { throw fail("fsync of '\(temporary)' failed: \(SafeTensorsIO.errnoText())") }
        closed = true
        guard close(fd) == 0 else { throw fail("closing '\(temporary)' failed: \(SafeTensorsIO.errnoText())") }
        guard rename(temporary, path) == 0 else {
            throw fail("cannot rename '\(temporary)' to '\(path)': \(SafeTensorsIO.errnoText())")
        }
        renamed = true
    }

    /// A JSON string literal for `text`.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// `write(2)`, named apart from `SafeTensorsWriter.write`.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
