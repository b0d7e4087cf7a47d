import Foundation
import Testing
@testable import SNNAModelImport

/// Small helpers to assemble pickles by hand.
func pk(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }
func binunicode(_ s: String) -> [UInt8] {
    let b = Array(s.utf8)
    var out: [UInt8] = [0x58]
    withUnsafeBytes(of: UInt32(b.count).littleEndian) { out += $0 }
    return out + b
}
func globalOp(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }

@Suite struct PickleTests {
    @Test func scalarsAndContainers() throws {
        // {'a': [1, -2, 300, 70000, True, None, 1.5], 'b': (b'xy', 'é'), 'c': {1, 2}, 'd': frozenset()}
        var p: [UInt8] = [0x80, 0x04, 0x95] + [UInt8](repeating: 0, count: 8) // PROTO 4, FRAME (length ignored)
        p += [0x7d, 0x94, 0x28] // EMPTY_DICT MEMOIZE MARK
        p += [0x8c, 1, 0x61] // SHORT_BINUNICODE 'a'
        p += [0x5d, 0x94, 0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x4d, 0x2c, 0x01]
        p += [0x8a, 3, 0x70, 0x11, 0x01, 0x88, 0x4e, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x65]
        p += [0x8c, 1, 0x62, 0x43, 2, 0x78, 0x79] + binunicode("é") + [0x86]
        p += [0x8c, 1, 0x63, 0x8f, 0x28, 0x4b, 1, 0x4b, 2, 0x90]
        p += [0x8c, 1, 0x64, 0x28, 0x91]
        p += [0x75, 0x2e]
        let v = try Pickle.load(p)
        #expect(v == .dict([
            (key: .string("a"), value: .list([.int(1), .int(-2), .int(300), .int(70000), .bool(true), .none, .float(1.5)])),
            (key: .string("b"), value: .tuple([.bytes([0x78, 0x79]), .string("é")])),
            (key: .string("c"), value: .set([.int(1), .int(2)])),
            (key: .string("d"), value: .set([])),
        ]))
        #expect(v["a"]?.elements?.count == 7)
    }

    @Test func protocol0TextOpcodes() throws {
        // (lp0\nI1\naL12345678901L\naF0.25\naS'it\'s'\naVcaf\u00e9\naI01\na.
        let text = "(lp0\nI1\naL12345678901L\naF0.25\naS'it\\'s'\naVcaf\\u00e9\naI01\nag0\n."
        let v = try Pickle.load(Array(text.utf8))
        guard case .list(let items) = v else { Issue.record("not a list: \(v)"); return }
        #expect(items == [.int(1), .int(12_345_678_901), .float(0.25), .string("it's"), .string("café"), .bool(true)])
    }

    @Test func bigIntegers() throws {
        // LONG1 with 9 bytes that still fits (sign extension) and one that does not.
        let fits = try Pickle.load([0x80, 2, 0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e])
        #expect(fits == .int(-1))
        let big = try Pickle.load([0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2e])
        #expect(big == .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 1]))
        let long4 = try Pickle.load([0x80, 2, 0x8b, 2, 0, 0, 0, 0x00, 0x80, 0x2e])
        #expect(long4 == .int(-32768))
    }

    @Test func memoAliasesMutableContainers() throws {
        // l = []; d = {'x': l}; l.append(5)  → d['x'] == [5]: memo references see later mutation.
        var p: [UInt8] = [0x80, 2, 0x5d, 0x71, 0, 0x7d, 0x71, 1] + binunicode("x") + [0x68, 0, 0x73] // d on top
        p += [0x30, 0x68, 0, 0x4b, 5, 0x61, 0x30, 0x68, 1, 0x2e] // POP d, GET l, append 5, POP, GET d
        #expect(try Pickle.load(p) == .dict([(key: .string("x"), value: .list([.int(5)]))]))
    }

    @Test func unknownOpcodeIsNamed() {
        expectImportError("unknown pickle opcode 0xff at offset 2") { _ = try Pickle.load([0x80, 2, 0xff, 0x2e]) }
        expectImportError("EXT1") { _ = try Pickle.load([0x80, 2, 0x82, 1, 0x2e]) }
        expectImportError("unsupported pickle protocol 9") { _ = try Pickle.load([0x80, 9, 0x4e, 0x2e]) }
    }

    @Test func malformedPicklesFail() {
        expectImportError("underflow") { _ = try Pickle.load([0x80, 2, 0x2e]) }
        expectImportError("underflow") { _ = try Pickle.load([0x80, 2, 0x28, 0x61, 0x2e]) }
        expectImportError("truncated") { _ = try Pickle.load([0x80, 2, 0x58, 0xff, 0, 0, 0]) }
        expectImportError("exceeds the") { _ = try Pickle.load([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x2e]) }
        expectImportError("truncated") { _ = try Pickle.load([0x80, 2, 0x4e]) } // no STOP
        expectImportError("memo key 7 was never stored") { _ = try Pickle.load([0x80, 2, 0x68, 7, 0x2e]) }
        expectImportError("not valid UTF-8") { _ = try Pickle.load([0x80, 2, 0x8c, 1, 0xff, 0x2e]) }
        expectImportError("persistent id but no persistent loader") { _ = try Pickle.load([0x80, 2, 0x4e, 0x51, 0x2e]) }
        expectImportError("call target is not a class reference") { _ = try Pickle.load([0x80, 2, 0x4e, 0x29, 0x52, 0x2e]) }
    }

    @Test func recursiveStructureIsAnErrorNotAHang() {
        // l = []; l.append(l)
        expectImportError("recursive structure") { _ = try Pickle.load([0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e]) }
    }

    @Test func deepNestingIsBoundedWithoutCrashing() {
        // 100k nested TUPLE1 and 100k lists each appended into the previous one (released without recursion).
        let tuples: [UInt8] = [0x80, 2, 0x4e] + [UInt8](repeating: 0x85, count: 100_000) + [0x2e]
        expectImportError("nested deeper than") { _ = try Pickle.load(tuples) }
        var chain: [UInt8] = [0x80, 2, 0x5d, 0x71, 0] // root list = memo[0] = innermost
        for _ in 0 ..< 50_000 { chain += [0x68, 0, 0x5d, 0x71, 1, 0x61, 0x30, 0x68, 1, 0x71, 0, 0x30] }
        chain += [0x2e]
        expectImportError("nested deeper than") { _ = try Pickle.load(chain) }
        // Exponential aliasing: a list holding itself-derived copies twice, 60 levels → budget error, not OOM.
        var alias: [UInt8] = [0x80, 2, 0x4e]
        for _ in 0 ..< 60 { alias += [0x32, 0x86] } // DUP TUPLE2: t = (t, t)
        alias += [0x2e]
        expectImportError("nested deeper than") { _ = try Pickle.load(alias, limits: { var l = PickleLimits(); l.maxDepth = 50; return l }()) }
        expectImportError("expands to more values than allowed (6080)") { _ = try Pickle.load(alias) }
        expectImportError("expands to more values than allowed (1000)") {
            _ = try Pickle.load(alias, limits: { var l = PickleLimits(); l.maxValues = 1000; return l }())
        }
    }

    @Test func osSystemIsNeverExecuted() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("snna-pickle-pwned-\(getpid())").path
        try? FileManager.default.removeItem(atPath: marker)
        let cmd = "touch \(marker)"
        for p in [
            pk([0x80, 2], globalOp("os", "system"), binunicode(cmd), [0x85, 0x52, 0x2e]),
            pk([0x80, 2], globalOp("posix", "system"), binunicode(cmd), [0x85, 0x52, 0x2e]),
            pk([0x80, 4], [0x8c, 8], Array("builtins".utf8), [0x8c, 4], Array("eval".utf8), [0x93],
               binunicode("__import__('os').system('\(cmd)')"), [0x85, 0x52, 0x2e]),
            Array("cos\nsystem\n(S'\(cmd)'\ntR.".utf8),
        ] {
            let v = try Pickle.load(p)
            guard case .object(let name, let args, let state) = v else { Issue.record("not opaque: \(v)"); continue }
            #expect(["os.system", "posix.system", "builtins.eval"].contains(name))
            #expect(args.count == 1 && state == .none)
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "a pickle executed code")
    }

    @Test func opaqueObjectsKeepArgsStateAndItems() throws {
        // argparse.Namespace via NEWOBJ + BUILD; a NEWOBJ_EX; an unknown dict subclass with SETITEMS.
        var p: [UInt8] = [0x80, 4, 0x5d, 0x28]
        p += globalOp("argparse", "Namespace") + [0x29, 0x81, 0x7d, 0x28] + binunicode("lr") + [0x47, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0x75, 0x62]
        p += globalOp("m", "K") + [0x4b, 1, 0x85, 0x7d] + binunicode("k") + [0x4b, 2, 0x73, 0x92]
        p += globalOp("m", "D") + [0x29, 0x52, 0x28] + binunicode("z") + [0x4e, 0x75]
        p += [0x65, 0x2e]
        let v = try Pickle.load(p)
        #expect(v == .list([
            .object("argparse.Namespace", args: [], state: .dict([(key: .string("lr"), value: .float(0.5))])),
            .object("m.K", args: [.int(1), .dict([(key: .string("k"), value: .int(2))])], state: .none),
            .object("m.D", args: [.dict([(key: .string("z"), value: .none)])], state: .none),
        ]))
    }

    @Test func orderedDictAndCodecs() throws {
        // OrderedDict([('a', 1)]) built from a list of pairs, a duplicate key, and bytes via _codecs.encode.
        var p: [UInt8] = [0x80, 2] + globalOp("collections", "OrderedDict")
        p += [0x5d, 0x28] + binunicode("a") + [0x4b, 1, 0x86, 0x65, 0x85, 0x52]
        p += [0x28] + binunicode("b") + globalOp("_codecs", "encode") + binunicode("\u{ff}A") + binunicode("latin1") + [0x86, 0x52]
        p += binunicode("a") + [0x4b, 9, 0x75, 0x2e]
        let v = try Pickle.load(p)
        #expect(v == .dict([(key: .string("a"), value: .int(9)), (key: .string("b"), value: .bytes([0xff, 0x41]))]))
    }
}
