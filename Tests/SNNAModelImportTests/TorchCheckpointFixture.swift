import Foundation

/// Test-only writer of PyTorch zip checkpoints laid out the way `torch.save` (≥ 1.6) does it: a STORED zip with
/// `<top>/data.pkl` (a protocol-2 pickle assembled byte by byte), `<top>/data/<key>` raw little-endian storages and
/// `<top>/version`. Data are aligned to 64 bytes with an extra field in the local header, as torch's writer does.
enum TorchCheckpointFixture {
    enum Storage: Equatable {
        case f32([Float])
        case f16([UInt16])
        case bf16([UInt16])
        case f64([Double])
        case i64([Int64])

        var className: String {
            switch self {
            case .f32: return "FloatStorage"
            case .f16: return "HalfStorage"
            case .bf16: return "BFloat16Storage"
            case .f64: return "DoubleStorage"
            case .i64: return "LongStorage"
            }
        }
        var count: Int {
            switch self {
            case .f32(let v): return v.count
            case .f16(let v), .bf16(let v): return v.count
            case .f64(let v): return v.count
            case .i64(let v): return v.count
            }
        }
        var bytes: [UInt8] {
            var out: [UInt8] = []
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
            switch self {
            case .f32(let v): v.forEach { put($0.bitPattern) }
            case .f16(let v), .bf16(let v): v.forEach { put($0) }
            case .f64(let v): v.forEach { put($0.bitPattern) }
            case .i64(let v): v.forEach { put($0) }
            }
            return out
        }
    }

    struct Tensor {
        var key: String
        var storage: Storage
        var offset = 0
        var shape: [Int]
        /// nil: contiguous row-major.
        var stride: [Int]? = nil
        var location = "cpu"
        /// Overrides the numel written in the persistent id (to forge inconsistent files).
        var declaredNumel: Int? = nil

        var strides: [Int] {
            if let s = stride { return s }
            var out = [Int](repeating: 1, count: shape.count)
            var acc = 1
            for i in Swift.stride(from: shape.count - 1, through: 0, by: -1) { out[i] = acc; acc *= shape[i] }
            return out
        }
    }

    indirect enum Value {
        case none, bool(Bool), int(Int64), float(Double), string(String)
        case list([Value]), tuple([Value])
        /// A plain dict (EMPTY_DICT … SETITEMS).
        case dict([(String, Value)])
        /// collections.OrderedDict (GLOBAL + EMPTY_TUPLE + REDUCE, then SETITEMS), as state dicts are.
        case ordered([(String, Value)])
        case tensor(Tensor)
        /// torch._utils._rebuild_parameter wrapping a tensor (nn.Parameter).
        case parameter(Tensor)
        /// argparse.Namespace: GLOBAL + EMPTY_TUPLE + NEWOBJ + BUILD with a dict state.
        case namespace([(String, Value)])
    }

    // MARK: pickle

    final class PickleWriter {
        var out: [UInt8] = [0x80, 0x02]
        var memo = 0
        var globals: [String: Int] = [:]
        var storages: [(String, Storage)] = []
        var storageMemo: [String: Int] = [:]

        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func put() {
            if memo < 256 { out += [0x71, UInt8(memo)] } else { out.append(0x72); u32(UInt32(memo)) }
            memo += 1
        }
        func get(_ i: Int) {
            if i < 256 { out += [0x68, UInt8(i)] } else { out.append(0x6a); u32(UInt32(i)) }
        }
        func string(_ s: String) {
            let b = Array(s.utf8)
            out.append(0x58); u32(UInt32(b.count)); out += b
            put()
        }
        func int(_ v: Int64) {
            if v >= 0 && v < 256 { out += [0x4b, UInt8(v)] } else if v >= 0 && v < 65536 {
                out += [0x4d, UInt8(v & 0xFF), UInt8(v >> 8)]
            } else if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
                out.append(0x4a); u32(UInt32(bitPattern: Int32(v)))
            } else {
                out += [0x8a, 8]; withUnsafeBytes(of: v.littleEndian) { out += $0 }
            }
        }
        func global(_ module: String, _ name: String) {
            let k = module + "\n" + name + "\n"
            if let i = globals[k] { get(i); return }
            out.append(0x63); out += Array(k.utf8)
            globals[k] = memo
            put()
        }
        func tuple(_ items: [Value]) {
            switch items.count {
            case 0: out.append(0x29)
            case 1...3: items.forEach(value); out.append([0x85, 0x86, 0x87][items.count - 1])
            default: out.append(0x28); items.forEach(value); out.append(0x74)
            }
            put()
        }
        func setitems(_ items: [(String, Value)]) {
            guard !items.isEmpty else { return }
            out.append(0x28)
            for (k, v) in items { string(k); value(v) }
            out.append(0x75)
        }
        func emptyOrderedDict() {
            global("collections", "OrderedDict")
            out.append(0x29); out.append(0x52); put()
        }
        func tensor(_ t: Tensor) {
            global("torch._utils", "_rebuild_tensor_v2")
            out.append(0x28)
            if let m = storageMemo[t.key] {
                get(m)
            } else {
                out.append(0x28)
                string("storage")
                global("torch", t.storage.className)
                string(t.key)
                string(t.location)
                int(Int64(t.declaredNumel ?? t.storage.count))
                out.append(0x74); put()
                out.append(0x51) // BINPERSID
                storageMemo[t.key] = memo
                put()
                storages.append((t.key, t.storage))
            }
            int(Int64(t.offset))
            tuple(t.shape.map { .int(Int64($0)) })
            tuple(t.strides.map { .int(Int64($0)) })
            out.append(0x89) // NEWFALSE
            emptyOrderedDict()
            out.append(0x74); put()
            out.append(0x52); put()
        }
        func value(_ v: Value) {
            switch v {
            case .none: out.append(0x4e)
            case .bool(let b): out.append(b ? 0x88 : 0x89)
            case .int(let i): int(i)
            case .float(let d): out.append(0x47); withUnsafeBytes(of: d.bitPattern.bigEndian) { out += $0 }
            case .string(let s): string(s)
            case .list(let items):
                out.append(0x5d); put()
                if !items.isEmpty { out.append(0x28); items.forEach(value); out.append(0x65) }
            case .tuple(let items): tuple(items)
            case .dict(let items): out.append(0x7d); put(); setitems(items)
            case .ordered(let items): emptyOrderedDict(); setitems(items)
            case .tensor(let t): tensor(t)
            case .parameter(let t):
                global("torch._utils", "_rebuild_parameter")
                out.append(0x28)
                tensor(t)
                out.append(0x88) // requires_grad
                emptyOrderedDict()
                out.append(0x74); put()
                out.append(0x52); put()
            case .namespace(let items):
                global("argparse", "Namespace")
                out.append(0x29); out.append(0x81); put() // EMPTY_TUPLE NEWOBJ
                out.append(0x7d); put(); setitems(items)
                out.append(0x62) // BUILD
            }
        }
    }

    /// The pickle bytes and the storages it references (each once, in first-use order).
    static func pickle(_ root: Value) -> (pkl: [UInt8], storages: [(String, Storage)]) {
        let w = PickleWriter()
        w.value(root)
        w.out.append(0x2e)
        return (w.out, w.storages)
    }

    /// A complete checkpoint file image.
    static func checkpoint(_ root: Value, top: String = "archive", zip64: Bool = false, byteorder: String? = nil,
                           storageBytes: ((String, [UInt8]) -> [UInt8])? = nil) -> [UInt8] {
        let (pkl, storages) = pickle(root)
        var items = [ZipItem(name: "\(top)/data.pkl", data: pkl)]
        if let b = byteorder { items.append(ZipItem(name: "\(top)/byteorder", data: Array(b.utf8))) }
        for (k, s) in storages {
            let b = storageBytes?(k, s.bytes) ?? s.bytes
            items.append(ZipItem(name: "\(top)/data/\(k)", data: b))
        }
        items.append(ZipItem(name: "\(top)/version", data: Array("3\n".utf8)))
        return zipArchive(items, zip64: zip64)
    }

    /// A DINO-like full checkpoint: nested state dicts, scalars, an opaque argparse.Namespace, float16 storage,
    /// a tensor at a non-zero storage offset and a transposed (strided) view.
    static func sample() -> Value {
        let w = Tensor(key: "0", storage: .f32((0 ..< 12).map { Float($0) * 0.5 - 1 }), shape: [3, 4])
        let bias = Tensor(key: "1", storage: .f32([0.25, -0.125, 3]), shape: [3])
        // Rows 1..2 of a 4×2 storage: offset 2.
        let sliced = Tensor(key: "2", storage: .f32([9, 9, 1, 2, 3, 4, 9, 9]), offset: 2, shape: [2, 2])
        // Transpose of a 2×3 row-major storage: shape (3, 2), stride (1, 3).
        let transposed = Tensor(key: "3", storage: .f32([1, 2, 3, 4, 5, 6]), shape: [3, 2], stride: [1, 3])
        let half = Tensor(key: "4", storage: .f16([0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x3555]), shape: [2, 3])
        let teacher: [(String, Value)] = [
            ("backbone.cls_token", .tensor(Tensor(key: "5", storage: .f32([0.5, 1.5, -2.5, 4]), shape: [1, 1, 4]))),
            ("backbone.blocks.0.attn.qkv.weight", .tensor(w)),
            ("backbone.blocks.0.attn.qkv.bias", .tensor(bias)),
            ("backbone.sliced", .tensor(sliced)),
            ("backbone.transposed", .tensor(transposed)),
            ("backbone.half", .tensor(half)),
            ("head.scalar", .tensor(Tensor(key: "6", storage: .f32([7]), shape: []))),
        ]
        return .dict([
            ("student", .ordered([("module.backbone.cls_token", .parameter(Tensor(key: "5", storage: .f32([0.5, 1.5, -2.5, 4]), shape: [1, 1, 4])))])),
            ("teacher", .ordered(teacher)),
            ("epoch", .int(100)),
            ("best_acc", .float(72.35502439096155)),
            ("args", .namespace([("arch", .string("vit_small")), ("patch_size", .int(8)), ("lr", .float(0.0005)),
                                  ("use_fp16", .bool(true)), ("out_dim", .int(65536)), ("seed", .int(-1)),
                                  ("crops", .list([.float(0.4), .float(1.0)])), ("none", .none)])),
            ("dino_loss", .dict([("center", .tensor(Tensor(key: "7", storage: .f64([0.1, -3.75]), shape: [1, 2])))])),
            ("fp16_scaler", .dict([("scale", .float(65536.0)), ("growth_tracker", .int(1234567))])),
        ])
    }

    // MARK: zip

    struct ZipItem {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var crc: UInt32? = nil
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static func zipArchive(_ items: [ZipItem], zip64: Bool = false, align: Int = 64) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { out += $0 } }
        var offsets: [Int] = []
        for it in items {
            offsets.append(out.count)
            let name = Array(it.name.utf8)
            let crc = it.crc ?? crc32(it.data)
            u32(0x0403_4b50); u16(zip64 ? 45 : 20); u16(0); u16(Int(it.method)); u16(0); u16(0x21)
            u32(crc)
            if zip64 { u32(0xFFFF_FFFF); u32(0xFFFF_FFFF) } else { u32(UInt32(it.data.count)); u32(UInt32(it.data.count)) }
            let z64Len = zip64 ? 20 : 0
            var pad = 0
            if align > 1 {
                let dataStart = out.count + 4 + name.count + z64Len
                pad = (align - (dataStart + 4) % align) % align
            }
            let extraLen = z64Len + (align > 1 ? 4 + pad : 0)
            u16(name.count); u16(extraLen)
            out += name
            if zip64 { u16(1); u16(16); u64(it.data.count); u64(it.data.count) }
            if align > 1 { u16(0x4246); u16(pad); out += [UInt8](repeating: 0x5a, count: pad) }  // "FB" padding
            out += it.data
        }
        let cdStart = out.count
        for (it, off) in zip(items, offsets) {
            let name = Array(it.name.utf8)
            u32(0x0201_4b50); u16(zip64 ? 45 : 20); u16(zip64 ? 45 : 20); u16(0); u16(Int(it.method)); u16(0); u16(0x21)
            u32(it.crc ?? crc32(it.data))
            if zip64 { u32(0xFFFF_FFFF); u32(0xFFFF_FFFF) } else { u32(UInt32(it.data.count)); u32(UInt32(it.data.count)) }
            u16(name.count); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0)
            u32(zip64 ? 0xFFFF_FFFF : UInt32(off))
            out += name
            if zip64 { u16(1); u16(24); u64(it.data.count); u64(it.data.count); u64(off) }
        }
        let cdSize = out.count - cdStart
        if zip64 {
            let rec = out.count
            u32(0x0606_4b50); u64(44); u16(45); u16(45); u32(0); u32(0)
            u64(items.count); u64(items.count); u64(cdSize); u64(cdStart)
            u32(0x0706_4b50); u32(0); u64(rec); u32(1)
            u32(0x0605_4b50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(0)
        } else {
            u32(0x0605_4b50); u16(0); u16(0); u16(items.count); u16(items.count); u32(UInt32(cdSize)); u32(UInt32(cdStart)); u16(0)
        }
        return out
    }
}
