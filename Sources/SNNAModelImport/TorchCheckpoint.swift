/// Element type of a torch storage.
public enum TorchDType: String, Sendable, Equatable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
    public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    /// From the storage class named in a persistent id ("torch.FloatStorage", ...).
    public init?(storageClass: String) {
        switch storageClass {
        case "torch.FloatStorage", "torch.cuda.FloatStorage": self = .float32
        case "torch.HalfStorage", "torch.cuda.HalfStorage": self = .float16
        case "torch.BFloat16Storage", "torch.cuda.BFloat16Storage": self = .bfloat16
        case "torch.DoubleStorage", "torch.cuda.DoubleStorage": self = .float64
        case "torch.LongStorage", "torch.cuda.LongStorage": self = .int64
        case "torch.IntStorage", "torch.cuda.IntStorage": self = .int32
        case "torch.ShortStorage", "torch.cuda.ShortStorage": self = .int16
        case "torch.CharStorage", "torch.cuda.CharStorage": self = .int8
        case "torch.ByteStorage", "torch.cuda.ByteStorage", "torch.UntypedStorage": self = .uint8
        case "torch.BoolStorage", "torch.cuda.BoolStorage": self = .bool
        default: return nil
        }
    }
}

/// A tensor read from a checkpoint, materialized row-major (C order) as Float. float16 / bfloat16 are widened
/// exactly, float64 is rounded to nearest, integer types are converted (exact up to 2^24).
public struct TorchTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    /// The element type of the storage it was read from.
    public var dtype: TorchDType

    public init(shape: [Int], values: [Float], dtype: TorchDType = .float32) {
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
    public var count: Int { values.count }
}

/// A PyTorch (≥ 1.6, zip format) checkpoint, read natively: `ZipArchive` + the restricted `Pickle` interpreter.
public struct TorchCheckpoint: Sendable {
    /// The path (or label) used in error messages.
    public let label: String
    /// The single top folder of the archive ("archive", or the file stem in newer torch versions).
    public let topFolder: String
    /// Contents of `<top>/version`, trimmed, when present.
    public let version: String?
    /// The unpickled object (usually a dict).
    public let root: PickleValue

    public static let legacyMessage = "legacy (pre-1.6) torch file: re-save it with torch ≥ 1.6"

    /// Reads a checkpoint and returns its unpickled root value.
    public static func load(path: String) throws -> PickleValue { try open(path: path).root }
    public static func load(bytes: [UInt8], label: String = "<memory>") throws -> PickleValue {
        try open(bytes: bytes, label: label).root
    }

    public static func open(path: String) throws -> TorchCheckpoint {
        try open(bytes: try ZipArchive.readFile(path), label: path)
    }

    public static func open(bytes: [UInt8], label: String = "<memory>") throws -> TorchCheckpoint {
        let isZip = bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b
            && ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6))
        if !isZip {
            let magic: [UInt8] = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
            if bytes.count >= 14, bytes[0] == 0x80, Array(bytes[2 ..< 14]) == magic {
                throw ImportError("\(label): \(legacyMessage)")
            }
            throw ImportError("\(label): not a PyTorch zip checkpoint")
        }
        let zip = try ZipArchive(bytes: bytes, label: label)
        let tops = zip.names.compactMap { name -> String? in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty ? String(parts[0]) : nil
        }
        guard tops.count == 1, let top = tops.first else {
            throw ImportError(tops.isEmpty ? "\(label): not a PyTorch zip checkpoint (no <top>/data.pkl entry)"
                : "\(label): several top folders hold a data.pkl (\(tops.joined(separator: ", ")))")
        }
        if zip.entry("\(top)/byteorder") != nil {
            let order = String(decoding: try zip.data("\(top)/byteorder"), as: UTF8.self).torchTrimmed()
            guard order == "little" else { throw ImportError("\(label): unsupported byte order '\(order)' in \(top)/byteorder") }
        }
        var version: String?
        if zip.entry("\(top)/version") != nil {
            version = String(decoding: try zip.data("\(top)/version"), as: UTF8.self).torchTrimmed()
        }
        let pkl = try zip.data("\(top)/data.pkl")
        let loader = TorchStorageLoader(zip: zip, top: top, elementBudget: bytes.count + 65536)
        let root = try Pickle.load(pkl, label: "\(label): \(top)/data.pkl",
                                   persistentLoad: { try loader.load($0) },
                                   callables: [
                                       "torch._utils._rebuild_tensor_v2": { try loader.rebuild($0) },
                                       "torch._utils._rebuild_tensor": { try loader.rebuild($0) },
                                       "torch._utils._rebuild_parameter": { try loader.parameter($0) },
                                       "torch._utils._rebuild_parameter_with_state": { try loader.parameter($0) },
                                   ])
        return TorchCheckpoint(label: label, topFolder: top, version: version, root: root)
    }

    /// The value under `key` when `v` is a dict with that string key.
    public static func subDict(_ v: PickleValue, key: String) -> PickleValue? { v[key] }

    /// The string-keyed tensor entries, in order, of the dict reached from `root` through the '/'-separated key
    /// `path` ("" = `root` itself, "state_dict", "teacher", ...). Empty if the path does not lead to a dict.
    public static func stateDict(_ root: PickleValue, path: String = "") -> [(String, TorchTensor)] {
        var v = root
        for k in path.split(separator: "/") {
            guard let next = subDict(v, key: String(k)) else { return [] }
            v = next
        }
        guard let entries = v.dictEntries else { return [] }
        return entries.compactMap { e in
            guard case .string(let k) = e.key, case .tensor(let t) = e.value else { return nil }
            return (k, t)
        }
    }
}

extension String {
    func torchTrimmed() -> String {
        let scalars = unicodeScalars
        guard let s = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let e = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[s ... e])
    }
}

/// Resolves persistent storage ids against `<top>/data/<key>` and materializes tensors, within an element budget.
final class TorchStorageLoader {
    struct Storage {
        let dtype: TorchDType
        let numel: Int
        let raw: [UInt8]
        var decoded: [Float]?
    }

    let zip: ZipArchive
    let top: String
    var budget: Int
    var storages: [String: Storage] = [:]

    init(zip: ZipArchive, top: String, elementBudget: Int) {
        self.zip = zip
        self.top = top
        self.budget = elementBudget
    }

    var label: String { zip.label }

    func load(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count == 5, t[0] == .string("storage") else {
            throw ImportError("\(label): unsupported persistent id \(pid.description.prefix(200))")
        }
        guard case .classRef(let cls) = t[1] else { throw ImportError("\(label): storage type is not a class in \(pid.description.prefix(200))") }
        guard let dtype = TorchDType(storageClass: cls) else { throw ImportError("\(label): unsupported storage type \(cls)") }
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw ImportError("\(label): storage key is not a string in \(pid.description.prefix(200))")
        }
        let location = t[3].stringValue ?? "?"
        guard let n64 = t[4].intValue, n64 >= 0, n64 <= Int64(zip.bytes.count) else {
            throw ImportError("\(label): storage '\(key)' has an impossible element count \(t[4])")
        }
        let numel = Int(n64)
        if let s = storages[key] {
            guard s.dtype == dtype, s.numel == numel else {
                throw ImportError("\(label): storage '\(key)' is referenced with different types or sizes")
            }
        } else {
            let name = "\(top)/data/\(key)"
            guard let entry = zip.entry(name) else { throw ImportError("\(label): storage '\(key)' has no zip entry \(name)") }
            let need = numel * dtype.byteSize
            guard entry.size == need else {
                throw ImportError("\(label): zip entry \(name) holds \(entry.size) bytes but storage '\(key)' needs \(numel) × \(dtype.byteSize) = \(need)")
            }
            storages[key] = Storage(dtype: dtype, numel: numel, raw: try zip.data(entry), decoded: nil)
        }
        return .storage(type: cls, key: key, location: location, numel: numel)
    }

    func parameter(_ args: [PickleValue]) throws -> PickleValue {
        guard let first = args.first, case .tensor = first else {
            throw ImportError("\(label): _rebuild_parameter on something that is not a tensor")
        }
        return first
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    func rebuild(_ args: [PickleValue]) throws -> PickleValue {
        guard args.count >= 4, case .storage(_, let key, _, _) = args[0], var st = storages[key] else {
            throw ImportError("\(label): tensor rebuilt from something that is not a storage")
        }
        guard let off64 = args[1].intValue, off64 >= 0, off64 <= Int64(st.numel) else {
            throw ImportError("\(label): tensor on storage '\(key)' has a bad storage offset \(args[1])")
        }
        guard let sizeV = args[2].elements, let strideV = args[3].elements, sizeV.count == strideV.count, sizeV.count <= 64 else {
            throw ImportError("\(label): tensor on storage '\(key)' has malformed size / stride tuples")
        }
        var shape: [Int] = [], strides: [Int] = []
        for (a, s) in Swift.zip(sizeV, strideV) {
            guard let d = a.intValue, d >= 0, let t = s.intValue, t >= 0 else {
                throw ImportError("\(label): tensor on storage '\(key)' has a negative or non-integer size / stride")
            }
            shape.append(Int(d))
            // PyTorch ignores the stride of a size-1 dimension; so does the span check below, so it must not be
            // used either (an unbounded one overflowed the gather's position).
            strides.append(d == 1 ? 0 : Int(t))
        }
        // The product of the non-zero sizes must fit even when a zero size makes the tensor empty, so that every
        // partial product over the shape (the contiguity check below, any later consumer) fits too (a [0, 2^40, 2^40]
        // tensor used to pass here and trap in the contiguity check: Tests/SNNAModelImportTests/FuzzRegressionTests).
        var nonZero = 1
        for d in shape where d != 0 {
            guard let p = nonZero.torchMultiplied(d) else {
                throw ImportError("\(label): tensor on storage '\(key)' has an absurd shape \(shape) (element count overflows)")
            }
            nonZero = p
        }
        let numel = shape.contains(0) ? 0 : nonZero
        let offset = Int(off64)
        if numel > 0 {
            var last = offset
            for (d, s) in Swift.zip(shape, strides) {
                guard let span = (d - 1).torchMultiplied(s), let l = last.torchAdding(span) else {
                    throw ImportError("\(label): tensor on storage '\(key)' has an absurd shape \(shape) / stride \(strides)")
                }
                last = l
            }
            guard last < st.numel else {
                throw ImportError("\(label): tensor of shape \(shape), stride \(strides), offset \(offset) needs \(last == Int.max ? "more than \(Int.max)" : String(last + 1)) elements but storage '\(key)' has \(st.numel)")
            }
        }
        guard numel <= budget else {
            throw ImportError("\(label): tensors on storage '\(key)' would materialize more elements than the file allows (\(numel))")
        }
        budget -= numel

        var contiguous = true
        var expect = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expect { contiguous = false; break }
            expect *= shape[i]
        }
        let values: [Float]
        if contiguous {
            values = Self.decode(st.raw, st.dtype, start: offset, count: numel)
        } else {
            if st.decoded == nil {
                guard st.numel <= budget else { throw ImportError("\(label): storage '\(key)' exceeds the element budget") }
                budget -= st.numel
                st.decoded = Self.decode(st.raw, st.dtype, start: 0, count: st.numel)
                storages[key] = st
            }
            values = Self.gather(st.decoded!, shape: shape, strides: strides, offset: offset, count: numel)
        }
        return .tensor(TorchTensor(shape: shape, values: values, dtype: st.dtype))
    }

    static func gather(_ src: [Float], shape: [Int], strides: [Int], offset: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        guard count > 0 else { return out }
        let nd = shape.count
        var idx = [Int](repeating: 0, count: nd)
        var pos = offset
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0 ..< count {
                    o[i] = s[pos]
                    var d = nd - 1
                    while d >= 0 {
                        idx[d] += 1
                        pos += strides[d]
                        if idx[d] < shape[d] { break }
                        pos -= strides[d] * shape[d]
                        idx[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return out
    }

    static func decode(_ raw: [UInt8], _ dtype: TorchDType, start: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        guard count > 0 else { return out }
        let w = dtype.byteSize
        raw.withUnsafeBytes { p in
            out.withUnsafeMutableBufferPointer { o in
                let base = start * w
                switch dtype {
                case .float32:
                    for i in 0 ..< count {
                        o[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    }
                case .float16:
                    for i in 0 ..< count {
                        o[i] = halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self)))
                    }
                case .bfloat16:
                    for i in 0 ..< count {
                        let h = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self))
                        o[i] = Float(bitPattern: UInt32(h) << 16)
                    }
                case .float64:
                    for i in 0 ..< count {
                        o[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: base + 8 * i, as: UInt64.self))))
                    }
                case .int64:
                    for i in 0 ..< count {
                        o[i] = Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: base + 8 * i, as: Int64.self)))
                    }
                case .int32:
                    for i in 0 ..< count {
                        o[i] = Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: base + 4 * i, as: Int32.self)))
                    }
                case .int16:
                    for i in 0 ..< count {
                        o[i] = Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: base + 2 * i, as: Int16.self)))
                    }
                case .int8: for i in 0 ..< count { o[i] = Float(Int8(bitPattern: p[base + i])) }
                case .uint8: for i in 0 ..< count { o[i] = Float(p[base + i]) }
                case .bool: for i in 0 ..< count { o[i] = p[base + i] != 0 ? 1 : 0 }
                }
            }
        }
        return out
    }

    /// IEEE binary16 → binary32, exact (subnormals, infinities and NaN payloads included).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * 0x1p-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }
}
