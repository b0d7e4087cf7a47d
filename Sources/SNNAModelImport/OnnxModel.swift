import Foundation
import SNNAModel

/// One ONNX initializer widened to Float32: its shape (dims, row-major) and values.
public struct OnnxTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// One graph node: only what weight import needs (name, op, wiring and the integer attributes such as Gemm's transB).
public struct OnnxNode: Sendable, Equatable {
    public let name: String
    public let opType: String
    public let inputs: [String]
    public let outputs: [String]
    public let intAttributes: [String: Int]
    public init(name: String, opType: String, inputs: [String], outputs: [String], intAttributes: [String: Int] = [:]) {
        self.name = name
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.intAttributes = intAttributes
    }
}

/// The weights and wiring of an ONNX model, read with a small strict protobuf wire-format reader (no swift-protobuf).
///
/// Reads ModelProto.graph → GraphProto.{node, initializer, input, output} → NodeProto.{input, output, name, op_type,
/// attribute(name, i)} and TensorProto.{dims, data_type, float_data, int32_data, double_data, name, raw_data}.
/// Initializers of type FLOAT, FLOAT16, BFLOAT16 and DOUBLE are widened to Float; other types are listed in
/// `skippedInitializers` (name → ONNX data type). External data, segments, malformed varints, lengths past the end of a
/// message, element counts that disagree with the data and duplicate names all throw `ImportError` naming the file and
/// the initializer; nothing is allocated beyond what the file's own bytes justify.
public struct OnnxModel: Sendable {
    /// ONNX files are protobufs, which cannot exceed 2 GiB; anything larger is not a model this reader handles.
    public static let maxFileSize = 2 << 30

    public let source: String
    public let initializers: [String: OnnxTensor]
    /// Initializer names in file order.
    public let initializerNames: [String]
    /// Initializers of data types this reader does not widen (name → ONNX TensorProto.DataType).
    public let skippedInitializers: [String: Int]
    public let nodes: [OnnxNode]
    public let graphInputs: [String]
    public let graphOutputs: [String]
    public let producerName: String

    public init(path: String) throws {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw ImportError("\(path): cannot read the ONNX file (\(error.localizedDescription))")
        }
        if let size = (attributes[.size] as? NSNumber)?.intValue, size > OnnxModel.maxFileSize {
            throw ImportError("\(path): \(size) bytes is larger than any ONNX protobuf (2 GiB) — external data is not supported")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImportError("\(path): cannot read the ONNX file")
        }
        try self.init(bytes: [UInt8](data), source: path)
    }

    public init(bytes: [UInt8], source: String = "<onnx>") throws {
        guard bytes.count <= OnnxModel.maxFileSize else {
            throw ImportError("\(source): \(bytes.count) bytes is larger than any ONNX protobuf (2 GiB)")
        }
        self.source = source
        var parser = OnnxParser(bytes: bytes, source: source)
        let g = try parser.parseModel()
        initializers = g.initializers
        initializerNames = g.initializerNames
        skippedInitializers = g.skipped
        nodes = g.nodes
        graphInputs = g.inputs
        graphOutputs = g.outputs
        producerName = g.producer
    }
}

// MARK: - Wire format

/// A bounded view of a protobuf message inside the file's bytes.
struct ProtoReader {
    let bytes: [UInt8]
    var pos: Int
    let end: Int
    let context: () -> String

    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(Range<Int>)
    }

    var atEnd: Bool { pos >= end }

    func fail(_ what: String) -> ImportError { ImportError("\(context()): \(what)") }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw fail("truncated varint at byte \(pos)") }
            let b = bytes[pos]
            pos += 1
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits at byte \(pos - 1)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes at byte \(pos - 1)") }
        }
    }

    /// Reads one field: (number, value). Groups (wire types 3/4) and unknown wire types are errors.
    mutating func field() throws -> (Int, Value) {
        let start = pos
        let key = try varint()
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw fail("invalid field number \(number) at byte \(start)") }
        switch key & 7 {
        case 0:
            return (Int(number), .varint(try varint()))
        case 1:
            guard end - pos >= 8 else { throw fail("truncated fixed64 field \(number) at byte \(start)") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            return (Int(number), .fixed64(v))
        case 2:
            let len = try varint()
            guard len <= UInt64(end - pos) else {
                throw fail("field \(number) at byte \(start) claims \(len) bytes but only \(end - pos) remain")
            }
            let r = pos..<(pos + Int(len))
            pos += Int(len)
            return (Int(number), .bytes(r))
        case 5:
            guard end - pos >= 4 else { throw fail("truncated fixed32 field \(number) at byte \(start)") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[pos + i]) << (8 * UInt32(i)) }
            pos += 4
            return (Int(number), .fixed32(v))
        default:
            throw fail("unsupported wire type \(key & 7) for field \(number) at byte \(start)")
        }
    }

    func sub(_ r: Range<Int>, _ context: @escaping () -> String) -> ProtoReader {
        ProtoReader(bytes: bytes, pos: r.lowerBound, end: r.upperBound, context: context)
    }

    func string(_ r: Range<Int>, _ what: String) throws -> String {
        guard let s = String(validating: bytes[r], as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return s
    }
}

struct ParsedGraph {
    var initializers: [String: OnnxTensor] = [:]
    var initializerNames: [String] = []
    var skipped: [String: Int] = [:]
    var nodes: [OnnxNode] = []
    var inputs: [String] = []
    var outputs: [String] = []
    var producer = ""
}

struct OnnxParser {
    let bytes: [UInt8]
    let source: String

    init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    func parseModel() throws -> ParsedGraph {
        let src = source
        var r = ProtoReader(bytes: bytes, pos: 0, end: bytes.count, context: { "\(src): ModelProto" })
        guard !bytes.isEmpty else { throw r.fail("empty file") }
        var graphRange: Range<Int>?
        var producer = ""
        while !r.atEnd {
            let (n, v) = try r.field()
            switch (n, v) {
            case (7, .bytes(let range)):
                guard graphRange == nil else { throw r.fail("more than one graph") }
                graphRange = range
            case (2, .bytes(let range)):
                producer = try r.string(range, "producer_name")
            case (7, _), (2, _):
                throw r.fail("field \(n) has the wrong wire type")
            default:
                continue
            }
        }
        guard let gr = graphRange else { throw r.fail("no graph (field 7)") }
        var g = try parseGraph(r.sub(gr, { "\(src): GraphProto" }))
        g.producer = producer
        return g
    }

    func parseGraph(_ reader: ProtoReader) throws -> ParsedGraph {
        var r = reader
        var g = ParsedGraph()
        while !r.atEnd {
            let (n, v) = try r.field()
            guard [1, 5, 11, 12].contains(n) else { continue }
            guard case .bytes(let range) = v else { throw r.fail("field \(n) has the wrong wire type") }
            switch n {
            case 1:
                let index = g.nodes.count
                let src = source
                g.nodes.append(try parseNode(r.sub(range, { "\(src): node #\(index)" })))
            case 5:
                let index = g.initializerNames.count + g.skipped.count
                let src = source
                let t = try parseTensor(r.sub(range, { "\(src): initializer #\(index)" }))
                guard g.initializers[t.name] == nil, g.skipped[t.name] == nil else {
                    throw ImportError("\(source): duplicate initializer name '\(t.name)'")
                }
                if let values = t.values {
                    g.initializers[t.name] = OnnxTensor(name: t.name, shape: t.shape, values: values)
                    g.initializerNames.append(t.name)
                } else {
                    g.skipped[t.name] = t.dataType
                }
            default:
                let src = source
                var vr = r.sub(range, { "\(src): graph \(n == 11 ? "input" : "output")" })
                var name = ""
                while !vr.atEnd {
                    let (fn, fv) = try vr.field()
                    if fn == 1 {
                        guard case .bytes(let nr) = fv else { throw vr.fail("name has the wrong wire type") }
                        name = try vr.string(nr, "name")
                    }
                }
                if n == 11 { g.inputs.append(name) } else { g.outputs.append(name) }
            }
        }
        return g
    }

    func parseNode(_ reader: ProtoReader) throws -> OnnxNode {
        var r = reader
        var name = "", op = ""
        var inputs: [String] = [], outputs: [String] = []
        var attrs: [String: Int] = [:]
        while !r.atEnd {
            let (n, v) = try r.field()
            guard [1, 2, 3, 4, 5].contains(n) else { continue }
            guard case .bytes(let range) = v else { throw r.fail("field \(n) has the wrong wire type") }
            switch n {
            case 1: inputs.append(try r.string(range, "input name"))
            case 2: outputs.append(try r.string(range, "output name"))
            case 3: name = try r.string(range, "name")
            case 4: op = try r.string(range, "op_type")
            default:
                // AttributeProto: 1 name, 3 i. Sub-graphs and tensors inside attributes are skipped, not parsed.
                var ar = r.sub(range, r.context)
                var aname = ""
                var ival: Int?
                while !ar.atEnd {
                    let (an, av) = try ar.field()
                    switch (an, av) {
                    case (1, .bytes(let nr)): aname = try ar.string(nr, "attribute name")
                    case (3, .varint(let x)): ival = Int(truncatingIfNeeded: x)
                    case (1, _), (3, _): throw ar.fail("attribute field \(an) has the wrong wire type")
                    default: continue
                    }
                }
                if let ival, !aname.isEmpty { attrs[aname] = ival }
            }
        }
        return OnnxNode(name: name, opType: op, inputs: inputs, outputs: outputs, intAttributes: attrs)
    }

    struct RawTensor {
        var name: String
        var shape: [Int]
        var dataType: Int
        var values: [Float]?
    }

    static let dataTypeNames: [Int: String] = [1: "FLOAT", 10: "FLOAT16", 16: "BFLOAT16", 11: "DOUBLE"]

    func parseTensor(_ reader: ProtoReader) throws -> RawTensor {
        var r = reader
        var name: String?
        var dims: [Int] = []
        var dataType = 0
        var raw: Range<Int>?
        // Typed-field payloads, kept as ranges/values until the data type is known.
        var floatPacked: [Range<Int>] = [], floatSingles: [UInt32] = []
        var int32Data: [UInt64] = []
        var doublePacked: [Range<Int>] = [], doubleSingles: [UInt64] = []
        var hasExternal = false
        var hasSegment = false

        func addDim(_ x: UInt64) throws {
            let d = Int64(bitPattern: x)
            guard d >= 0 else { throw r.fail("negative dimension \(d)") }
            guard d <= Int64(bytes.count) * 8 else { throw r.fail("dimension \(d) is absurd for a \(bytes.count)-byte file") }
            dims.append(Int(d))
        }

        while !r.atEnd {
            let (n, v) = try r.field()
            switch (n, v) {
            case (1, .varint(let x)): try addDim(x)
            case (1, .bytes(let range)):
                var pr = r.sub(range, r.context)
                while !pr.atEnd { try addDim(try pr.varint()) }
            case (2, .varint(let x)):
                dataType = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: x))
            case (3, .bytes): hasSegment = true
            case (4, .bytes(let range)):
                guard range.count % 4 == 0 else { throw r.fail("packed float_data of \(range.count) bytes is not a multiple of 4") }
                floatPacked.append(range)
            case (4, .fixed32(let x)): floatSingles.append(x)
            case (5, .varint(let x)): int32Data.append(x)
            case (5, .bytes(let range)):
                var pr = r.sub(range, r.context)
                while !pr.atEnd { int32Data.append(try pr.varint()) }
            case (8, .bytes(let range)): name = try r.string(range, "name")
            case (9, .bytes(let range)):
                guard raw == nil else { throw r.fail("more than one raw_data field") }
                raw = range
            case (10, .bytes(let range)):
                guard range.count % 8 == 0 else { throw r.fail("packed double_data of \(range.count) bytes is not a multiple of 8") }
                doublePacked.append(range)
            case (10, .fixed64(let x)): doubleSingles.append(x)
            case (13, .bytes): hasExternal = true
            case (14, .varint(let x)): if x == 1 { hasExternal = true }
            case (1, _), (2, _), (3, _), (4, _), (5, _), (8, _), (9, _), (10, _), (13, _), (14, _):
                throw r.fail("TensorProto field \(n) has the wrong wire type")
            default:
                continue
            }
        }
        guard let name, !name.isEmpty else { throw r.fail("initializer without a name") }
        let label = "\(source): initializer '\(name)'"
        func err(_ m: String) -> ImportError { ImportError("\(label): \(m)") }
        if hasExternal { throw err("external data not supported (the weights must be inside the .onnx file)") }
        if hasSegment { throw err("segmented tensors are not supported") }

        var count = 1
        for d in dims {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p <= bytes.count * 8 else { throw err("shape \(dims) has an absurd element count") }
            count = p
        }

        guard let typeName = OnnxParser.dataTypeNames[dataType] else {
            return RawTensor(name: name, shape: dims, dataType: dataType, values: nil)
        }
        let typedCount = floatPacked.reduce(0) { $0 + $1.count / 4 } + floatSingles.count + int32Data.count
            + doublePacked.reduce(0) { $0 + $1.count / 8 } + doubleSingles.count
        var values: [Float] = []

        if let raw {
            guard typedCount == 0 else { throw err("has both raw_data and typed data") }
            let size = dataType == 1 ? 4 : dataType == 11 ? 8 : 2
            let (need, o) = count.multipliedReportingOverflow(by: size)
            guard !o, need == raw.count else {
                throw err("shape \(dims) of \(typeName) needs \(o ? "too many" : String(need)) bytes but raw_data has \(raw.count)")
            }
            values.reserveCapacity(count)
            var p = raw.lowerBound
            for _ in 0..<count {
                switch dataType {
                case 1:
                    values.append(Float(bitPattern: le32(p)))
                case 11:
                    values.append(Float(Double(bitPattern: UInt64(le32(p)) | (UInt64(le32(p + 4)) << 32))))
                case 10:
                    values.append(HalfPrecision.f16ToFloat(UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8))
                default:
                    values.append(Float(bitPattern: (UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8) << 16))
                }
                p += size
            }
        } else {
            // Typed storage: FLOAT in float_data, DOUBLE in double_data, FLOAT16/BFLOAT16 bits in int32_data.
            let expectedField: String
            let available: Int
            switch dataType {
            case 1: expectedField = "float_data"; available = floatPacked.reduce(0) { $0 + $1.count / 4 } + floatSingles.count
            case 11: expectedField = "double_data"; available = doublePacked.reduce(0) { $0 + $1.count / 8 } + doubleSingles.count
            default: expectedField = "int32_data"; available = int32Data.count
            }
            guard available == typedCount else { throw err("\(typeName) data stored outside \(expectedField)") }
            guard available == count else {
                throw err("shape \(dims) has \(count) elements but \(expectedField) has \(available)")
            }
            values.reserveCapacity(count)
            switch dataType {
            case 1:
                // Packed runs and single values keep their file order only within each kind; ONNX writers emit one.
                for range in floatPacked {
                    var p = range.lowerBound
                    while p < range.upperBound { values.append(Float(bitPattern: le32(p))); p += 4 }
                }
                for x in floatSingles { values.append(Float(bitPattern: x)) }
            case 11:
                for range in doublePacked {
                    var p = range.lowerBound
                    while p < range.upperBound {
                        values.append(Float(Double(bitPattern: UInt64(le32(p)) | (UInt64(le32(p + 4)) << 32))))
                        p += 8
                    }
                }
                for x in doubleSingles { values.append(Float(Double(bitPattern: x))) }
            default:
                for x in int32Data {
                    guard x <= 0xFFFF else { throw err("\(typeName) value \(x) in int32_data does not fit 16 bits") }
                    let bits = UInt16(x)
                    values.append(dataType == 10 ? HalfPrecision.f16ToFloat(bits) : Float(bitPattern: UInt32(bits) << 16))
                }
            }
        }
        return RawTensor(name: name, shape: dims, dataType: dataType, values: values)
    }

    @inline(__always)
    func le32(_ p: Int) -> UInt32 {
        UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24
    }
}
