public enum Pickle {
    /// A callable the unpickler may interpret when a REDUCE / NEWOBJ targets it: receives the converted arguments.
    public typealias Callable = ([PickleValue]) throws -> PickleValue

    /// Unpickles `bytes`. `persistentLoad` resolves BINPERSID / PERSID ids (without it they are an error);
    /// `callables` maps "module.name" to interpreters; every other class called in the pickle becomes an `.object`.
    public static func load(_ bytes: [UInt8], label: String = "pickle", limits: PickleLimits = .default,
                            persistentLoad: ((PickleValue) throws -> PickleValue)? = nil,
                            callables: [String: Callable] = [:]) throws -> PickleValue {
        let u = Unpickler(bytes: bytes, label: label, limits: limits, persistentLoad: persistentLoad, callables: callables)
        defer { u.teardown() }
        return try u.run()
    }
}

final class Unpickler {
    let b: [UInt8]
    let label: String
    let limits: PickleLimits
    let persistentLoad: ((PickleValue) throws -> PickleValue)?
    let callables: [String: Pickle.Callable]

    var pos = 0
    var opStart = 0
    var stack: [PickleIValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleIValue] = [:]
    var boxes: [PickleBox] = []
    var budget: Int
    var inProgress: Set<ObjectIdentifier> = []

    init(bytes: [UInt8], label: String, limits: PickleLimits, persistentLoad: ((PickleValue) throws -> PickleValue)?,
         callables: [String: Pickle.Callable]) {
        self.b = bytes
        self.label = label
        self.limits = limits
        self.persistentLoad = persistentLoad
        self.callables = callables
        let proportional = bytes.count.torchMultiplied(max(1, limits.valuesPerByte)).flatMap { $0.torchAdding(4096) } ?? Int.max
        self.budget = min(limits.maxValues, proportional)
        self.initialBudget = budget
    }
    let initialBudget: Int

    /// Empties every box first so that releasing them never recurses (deep nesting) and cycles do not leak.
    func teardown() {
        for x in boxes { x.items = []; x.pairs = []; x.args = []; x.state = nil }
        stack = []
        memo = [:]
        boxes = []
    }

    func fail(_ msg: String) -> ImportError {
        ImportError("\(label): \(msg) (\(opDescription))")
    }
    func opName(_ c: UInt8) -> String { PickleOp.names[c] ?? "0x" + String(c, radix: 16) }
    var opDescription: String {
        opStart < b.count ? "opcode \(opName(b[opStart])) at offset \(opStart)" : "at the end of the pickle, offset \(opStart)"
    }

    // MARK: stack

    var floor: Int { marks.last ?? 0 }
    func push(_ v: PickleIValue) throws {
        guard stack.count < limits.maxStack else { throw fail("pickle stack deeper than \(limits.maxStack)") }
        stack.append(v)
    }
    func pop() throws -> PickleIValue {
        guard stack.count > floor else { throw fail("pickle stack underflow") }
        return stack.removeLast()
    }
    func top() throws -> PickleIValue {
        guard stack.count > floor, let t = stack.last else { throw fail("pickle stack underflow") }
        return t
    }
    func popMark() throws -> [PickleIValue] {
        guard let m = marks.popLast() else { throw fail("no MARK on the pickle stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    func newBox(_ k: PickleBox.Kind) throws -> PickleBox {
        try spend(1)
        let x = PickleBox(k)
        boxes.append(x)
        return x
    }
    func spend(_ n: Int) throws {
        budget -= n
        guard budget >= 0 else { throw fail("pickle expands to more values than allowed (\(initialBudget))") }
    }
    func memoPut(_ key: Int) throws {
        let v = try top()
        if memo[key] == nil, memo.count >= limits.maxMemo { throw fail("pickle memo larger than \(limits.maxMemo)") }
        memo[key] = v
    }
    func memoGet(_ key: Int) throws -> PickleIValue {
        guard let v = memo[key] else { throw fail("memo key \(key) was never stored") }
        return v
    }
    func tupleBox(_ items: [PickleIValue]) throws -> PickleIValue {
        let x = try newBox(.tuple)
        try spend(items.count)
        x.items = items
        return .box(x)
    }

    // MARK: main loop

    func run() throws -> PickleValue {
        while true {
            opStart = pos
            let op = try u8()
            switch op {
            case 0x80: // PROTO
                let v = try u8()
                guard v <= 5 else { throw fail("unsupported pickle protocol \(v)") }
            case 0x95: // FRAME
                let n = try le(8)
                guard n <= UInt64(b.count - pos) else { throw fail("frame of \(n) bytes exceeds the \(b.count - pos) bytes left") }
            case 0x2e: // STOP
                let v = try pop()
                return try convert(v, depth: 0)
            case 0x28: // MARK
                guard marks.count < limits.maxMarks else { throw fail("more than \(limits.maxMarks) open MARKs") }
                marks.append(stack.count)
            case 0x30: // POP
                if stack.count > floor { stack.removeLast() } else { _ = try popMark() }
            case 0x31: _ = try popMark() // POP_MARK
            case 0x32: try push(try top()) // DUP
            // integers
            case 0x4a: try push(.leaf(.int(Int64(Int32(truncatingIfNeeded: try le(4)))))) // BININT
            case 0x4b: try push(.leaf(.int(Int64(try u8())))) // BININT1
            case 0x4d: try push(.leaf(.int(Int64(try le(2))))) // BININT2
            case 0x8a: // LONG1
                let n = Int(try u8())
                try push(.leaf(decodeLong(try take(n))))
            case 0x8b: // LONG4
                let n = Int32(truncatingIfNeeded: try le(4))
                guard n >= 0 else { throw fail("negative LONG4 length") }
                try push(.leaf(decodeLong(try takeLength(UInt64(n)))))
            case 0x49: // INT (text)
                let s = ascii(try line())
                if s == "00" { try push(.leaf(.bool(false))) } else if s == "01" { try push(.leaf(.bool(true))) } else {
                    guard let v = Int64(s) else { throw fail("bad INT literal") }
                    try push(.leaf(.int(v)))
                }
            case 0x4c: // LONG (text)
                var s = ascii(try line())
                if s.hasSuffix("L") { s.removeLast() }
                guard let v = Int64(s) else { throw fail("bad or oversized LONG literal") }
                try push(.leaf(.int(v)))
            case 0x47: try push(.leaf(.float(Double(bitPattern: try le(8).byteSwapped)))) // BINFLOAT (big-endian)
            case 0x46: // FLOAT (text)
                guard let v = Double(ascii(try line())) else { throw fail("bad FLOAT literal") }
                try push(.leaf(.float(v)))
            case 0x4e: try push(.leaf(.none))
            case 0x88: try push(.leaf(.bool(true)))
            case 0x89: try push(.leaf(.bool(false)))
            // strings and bytes
            case 0x58: try push(.leaf(.string(try utf8(try takeLength(try le(4)))))) // BINUNICODE
            case 0x8c: try push(.leaf(.string(try utf8(try take(Int(try u8())))))) // SHORT_BINUNICODE
            case 0x8d: try push(.leaf(.string(try utf8(try takeLength(try le(8)))))) // BINUNICODE8
            case 0x56: try push(.leaf(.string(try rawUnicodeEscape(try line())))) // UNICODE
            case 0x42: try push(.leaf(.bytes(try takeLength(try le(4))))) // BINBYTES
            case 0x43: try push(.leaf(.bytes(try take(Int(try u8()))))) // SHORT_BINBYTES
            case 0x8e, 0x96: try push(.leaf(.bytes(try takeLength(try le(8))))) // BINBYTES8, BYTEARRAY8
            case 0x54: // BINSTRING
                let n = Int32(truncatingIfNeeded: try le(4))
                guard n >= 0 else { throw fail("negative BINSTRING length") }
                try push(.leaf(pyStr(try takeLength(UInt64(n)))))
            case 0x55: try push(.leaf(pyStr(try take(Int(try u8()))))) // SHORT_BINSTRING
            case 0x53: try push(.leaf(pyStr(try quotedString(try line())))) // STRING
            // containers
            case 0x5d: try push(.box(try newBox(.list))) // EMPTY_LIST
            case 0x6c: // LIST
                let items = try popMark()
                let x = try newBox(.list)
                try spend(items.count)
                x.items = items
                try push(.box(x))
            case 0x61: // APPEND
                let v = try pop()
                try appendItems([v], to: try top())
            case 0x65: // APPENDS
                let items = try popMark()
                try appendItems(items, to: try top())
            case 0x29: try push(try tupleBox([])) // EMPTY_TUPLE
            case 0x74: try push(try tupleBox(try popMark())) // TUPLE
            case 0x85: let a = try pop(); try push(try tupleBox([a])) // TUPLE1
            case 0x86: let c = try pop(), a = try pop(); try push(try tupleBox([a, c])) // TUPLE2
            case 0x87: let d = try pop(), c = try pop(), a = try pop(); try push(try tupleBox([a, c, d])) // TUPLE3
            case 0x7d: try push(.box(try newBox(.dict))) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popMark()
                let x = try newBox(.dict)
                try setItems(items, on: .box(x))
                try push(.box(x))
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v], on: try top())
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, on: try top())
            case 0x8f: try push(.box(try newBox(.set))) // EMPTY_SET
            case 0x90: // ADDITEMS
                let items = try popMark()
                guard case .box(let x) = try top(), case .set = x.kind else { throw fail("ADDITEMS target is not a set") }
                try spend(items.count)
                x.items += items
            case 0x91: // FROZENSET
                let items = try popMark()
                let x = try newBox(.set)
                try spend(items.count)
                x.items = items
                try push(.box(x))
            // memo
            case 0x71: try memoPut(Int(try u8())) // BINPUT
            case 0x72: try memoPut(Int(try le(4))) // LONG_BINPUT
            case 0x70: try memoPut(try decimal(try line())) // PUT
            case 0x94: try memoPut(memo.count) // MEMOIZE
            case 0x68: try push(try memoGet(Int(try u8()))) // BINGET
            case 0x6a: try push(try memoGet(Int(try le(4)))) // LONG_BINGET
            case 0x67: try push(try memoGet(try decimal(try line()))) // GET
            // classes and calls — nothing is executed
            case 0x63: // GLOBAL
                let m = ascii(try line()), n = ascii(try line())
                try push(.leaf(.classRef(m + "." + n)))
            case 0x93: // STACK_GLOBAL
                guard case .leaf(.string(let n)) = try pop(), case .leaf(.string(let m)) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(.leaf(.classRef(m + "." + n)))
            case 0x52, 0x81: // REDUCE, NEWOBJ
                let args = try pop(), callable = try pop()
                guard case .leaf(.classRef(let name)) = callable else { throw fail("call target is not a class reference") }
                guard case .box(let a) = args, case .tuple = a.kind else { throw fail("call arguments are not a tuple") }
                try push(try call(name, a.items))
            case 0x92: // NEWOBJ_EX
                let kwargs = try pop(), args = try pop(), callable = try pop()
                guard case .leaf(.classRef(let name)) = callable else { throw fail("NEWOBJ_EX target is not a class reference") }
                guard case .box(let a) = args, case .tuple = a.kind else { throw fail("NEWOBJ_EX arguments are not a tuple") }
                let o = try newBox(.object(name))
                o.args = a.items
                if case .box(let k) = kwargs, !k.pairs.isEmpty { o.args.append(kwargs) }
                try push(.box(o))
            case 0x69: // INST
                let m = ascii(try line()), n = ascii(try line())
                let items = try popMark()
                let o = try newBox(.object(m + "." + n))
                o.args = items
                try push(.box(o))
            case 0x6f: // OBJ
                let items = try popMark()
                guard let first = items.first, case .leaf(.classRef(let name)) = first else { throw fail("OBJ needs a class") }
                let o = try newBox(.object(name))
                o.args = Array(items.dropFirst())
                try push(.box(o))
            case 0x62: // BUILD
                let state = try pop()
                let target = try top()
                if case .box(let x) = target, case .object = x.kind {
                    if let old = x.state, case .box(let ob) = old, case .dict = ob.kind, case .box(let nb) = state, case .dict = nb.kind {
                        ob.pairs += nb.pairs
                    } else {
                        x.state = state
                    }
                }
                // dicts (OrderedDict._metadata), tensors, parameters: the state is not needed and is dropped.
            case 0x51: // BINPERSID
                try push(try persistent(try pop()))
            case 0x50: // PERSID
                try push(try persistent(.leaf(.string(ascii(try line())))))
            case 0x98: _ = try top() // READONLY_BUFFER: no-op on the top value
            default:
                if PickleOp.names[op] != nil {
                    throw fail("unsupported pickle opcode")
                }
                throw ImportError("\(label): unknown pickle opcode 0x\(String(op, radix: 16)) at offset \(opStart)")
            }
        }
    }

    func appendItems(_ items: [PickleIValue], to target: PickleIValue) throws {
        guard case .box(let x) = target else { throw fail("APPEND target is not a list") }
        switch x.kind {
        case .list, .object: break
        default: throw fail("APPEND target is not a list")
        }
        try spend(items.count)
        x.items += items
    }

    func setItems(_ items: [PickleIValue], on target: PickleIValue) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        guard case .box(let x) = target else { throw fail("SETITEM target is not a dict") }
        switch x.kind {
        case .dict, .object: break
        default: throw fail("SETITEM target is not a dict")
        }
        try spend(items.count)
        var i = 0
        while i < items.count {
            x.pairs.append((items[i], items[i + 1]))
            i += 2
        }
    }

    func persistent(_ pid: PickleIValue) throws -> PickleIValue {
        guard let load = persistentLoad else { throw fail("persistent id but no persistent loader") }
        let v = try convert(pid, depth: 0)
        do {
            return .leaf(try load(v))
        } catch let e as ImportError {
            throw ImportError("\(e.message) (\(opDescription))")
        }
    }

    /// A REDUCE / NEWOBJ: interpreted for a few known containers and the registered callables, opaque otherwise.
    func call(_ name: String, _ args: [PickleIValue]) throws -> PickleIValue {
        switch name {
        case "collections.OrderedDict", "builtins.dict", "__builtin__.dict", "collections.defaultdict":
            let x = try newBox(.dict)
            if name != "collections.defaultdict", let first = args.first {
                guard case .box(let src) = first else { throw fail("\(name) argument is not a container") }
                switch src.kind {
                case .dict: try spend(src.pairs.count); x.pairs = src.pairs
                case .list, .tuple:
                    for item in src.items {
                        guard case .box(let p) = item, case .tuple = p.kind, p.items.count == 2 else {
                            throw fail("\(name) item is not a pair")
                        }
                        try setItems(p.items, on: .box(x))
                    }
                default: throw fail("\(name) argument is not a container")
                }
            }
            return .box(x)
        case "builtins.set", "__builtin__.set", "builtins.frozenset", "__builtin__.frozenset":
            let x = try newBox(.set)
            if let first = args.first {
                guard case .box(let src) = first, src.pairs.isEmpty else { throw fail("\(name) argument is not a sequence") }
                try spend(src.items.count)
                x.items = src.items
            }
            return .box(x)
        case "torch.Size":
            guard args.count == 1, case .box(let src) = args[0] else { throw fail("torch.Size needs one sequence") }
            return try tupleBox(src.items)
        case "_codecs.encode":
            guard args.count == 2, case .leaf(.string(let s)) = args[0], case .leaf(.string(let enc)) = args[1] else {
                throw fail("_codecs.encode needs (str, encoding)")
            }
            switch enc.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                for u in s.unicodeScalars {
                    guard u.value < 256 else { throw fail("_codecs.encode: character outside latin-1") }
                    out.append(UInt8(u.value))
                }
                return .leaf(.bytes(out))
            case "utf-8", "utf8": return .leaf(.bytes(Array(s.utf8)))
            default: break
            }
        default:
            if let f = callables[name] {
                var converted: [PickleValue] = []
                for a in args { converted.append(try convert(a, depth: 1)) }
                do {
                    return .leaf(try f(converted))
                } catch let e as ImportError {
                    throw ImportError("\(e.message) (in \(name), \(opDescription))")
                }
            }
        }
        let o = try newBox(.object(name))
        o.args = args
        return .box(o)
    }

    // MARK: conversion out of the boxes

    func convert(_ v: PickleIValue, depth: Int) throws -> PickleValue {
        switch v {
        case .leaf(let p):
            try spend(1)
            return p
        case .box(let x):
            guard depth < limits.maxDepth else { throw fail("values nested deeper than \(limits.maxDepth)") }
            let id = ObjectIdentifier(x)
            guard !inProgress.contains(id) else { throw fail("recursive structure (a container contains itself)") }
            inProgress.insert(id)
            defer { inProgress.remove(id) }
            try spend(1 + x.items.count + 2 * x.pairs.count + x.args.count)
            let items = try x.items.map { try convert($0, depth: depth + 1) }
            let pairs = try x.pairs.map { (key: try convert($0.0, depth: depth + 1), value: try convert($0.1, depth: depth + 1)) }
            switch x.kind {
            case .list: return .list(items)
            case .tuple: return .tuple(items)
            case .set: return .set(items)
            case .dict:
                // Python dict semantics: a repeated key keeps its first position and takes the last value.
                var out: [(key: PickleValue, value: PickleValue)] = []
                out.reserveCapacity(pairs.count)
                var stringIndex: [String: Int] = [:]
                for p in pairs {
                    if case .string(let s) = p.key {
                        if let i = stringIndex[s] { out[i].value = p.value; continue }
                        stringIndex[s] = out.count
                    } else if out.count < 1000, let i = out.firstIndex(where: { $0.key == p.key }) {
                        out[i].value = p.value
                        continue
                    }
                    out.append(p)
                }
                return .dict(out)
            case .object(let name):
                var args = try x.args.map { try convert($0, depth: depth + 1) }
                if !items.isEmpty { args.append(.list(items)) }
                if !pairs.isEmpty { args.append(.dict(pairs)) }
                let state = try x.state.map { try convert($0, depth: depth + 1) } ?? .none
                return .object(name, args: args, state: state)
            }
        }
    }
}
