/// A value read by the restricted unpickler. Nothing in a pickle is ever executed: class references stay names,
/// calls on unknown classes become `.object` placeholders.
public indirect enum PickleValue: Sendable, Equatable, CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer outside Int64, as its little-endian two's-complement bytes (pickle LONG1/LONG4).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    case set([PickleValue])
    /// A dict or OrderedDict, in insertion order (duplicate keys: the last value wins, at the first key's place).
    case dict([(key: PickleValue, value: PickleValue)])
    case tensor(TorchTensor)
    /// A GLOBAL / STACK_GLOBAL that was never called: "module.qualname".
    case classRef(String)
    /// An opaque instance: the class name ("argparse.Namespace"), the constructor / REDUCE / NEWOBJ arguments and the
    /// BUILD state (`.none` when there was none). Items appended or set on such an object follow the arguments as
    /// one trailing `.list` / `.dict`.
    case object(String, args: [PickleValue], state: PickleValue)
    /// A persistent storage reference that no tensor consumed: (storage class, key, location, numel).
    case storage(type: String, key: String, location: String, numel: Int)

    public static func == (a: PickleValue, b: PickleValue) -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bigInt(x), .bigInt(y)): return x == y
        case let (.float(x), .float(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)), let (.set(x), .set(y)): return x == y
        case let (.dict(x), .dict(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.tensor(x), .tensor(y)): return x == y
        case let (.classRef(x), .classRef(y)): return x == y
        case let (.object(n1, a1, s1), .object(n2, a2, s2)): return n1 == n2 && a1 == a2 && s1 == s2
        case let (.storage(t1, k1, l1, n1), .storage(t2, k2, l2, n2)): return t1 == t2 && k1 == k2 && l1 == l2 && n1 == n2
        default: return false
        }
    }

    /// The value for a string key of a dict (nil if not a dict or absent).
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let entries) = self else { return nil }
        return entries.first { $0.key == .string(key) }?.value
    }

    public var dictEntries: [(key: PickleValue, value: PickleValue)]? {
        if case .dict(let e) = self { return e }
        return nil
    }
    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var tensorValue: TorchTensor? { if case .tensor(let t) = self { return t }; return nil }
    /// Elements of a list, tuple or set.
    public var elements: [PickleValue]? {
        switch self {
        case .list(let e), .tuple(let e), .set(let e): return e
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let v): return String(v)
        case .bigInt(let b): return "<int of \(b.count) bytes>"
        case .float(let v): return String(v)
        case .string(let s): return "'\(s)'"
        case .bytes(let b): return "b<\(b.count) bytes>"
        case .list(let e): return "[" + e.map(\.description).joined(separator: ", ") + "]"
        case .tuple(let e): return "(" + e.map(\.description).joined(separator: ", ") + (e.count == 1 ? ",)" : ")")
        case .set(let e): return "{" + e.map(\.description).joined(separator: ", ") + "}"
        case .dict(let e): return "{" + e.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .tensor(let t): return "tensor(\(t.dtype.rawValue), shape \(t.shape))"
        case .classRef(let n): return "<class \(n)>"
        case .object(let n, let a, let s): return "\(n)(\(a.map(\.description).joined(separator: ", ")))" + (s == .none ? "" : "[state \(s)]")
        case .storage(let t, let k, let l, let n): return "<\(t) key \(k) on \(l), \(n) elements>"
        }
    }
}

/// Caps that keep a malformed or hostile pickle from exhausting memory or the call stack.
public struct PickleLimits: Sendable {
    public var maxStack = 1_000_000
    public var maxMarks = 100_000
    public var maxMemo = 1_000_000
    /// Total values produced, counting every element again each time a shared container is copied out
    /// (memo aliasing can otherwise expand a few bytes exponentially). The effective cap is also at most
    /// `valuesPerByte` × the pickle's length + 4096, so memory stays proportional to the input.
    public var maxValues = 10_000_000
    public var valuesPerByte = 16
    /// Container nesting depth of the result.
    public var maxDepth = 200
    public init() {}
    public static let `default` = PickleLimits()
}

/// The restricted unpickler (protocols 0–5, the opcodes `torch.save` and plain Python data use).
