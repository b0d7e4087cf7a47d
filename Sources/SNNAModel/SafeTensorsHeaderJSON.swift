// MARK: - Minimal JSON reader

/// A strict (RFC 8259) pull reader over the header bytes. It builds nothing beyond what the caller asks for,
/// skips unwanted values without recursion, and validates UTF-8 inside strings (outside strings any byte that
/// is not JSON syntax is an error, so the whole header is validated).
struct HeaderJSON {
    struct Failure: Error {
        let message: String
        let offset: Int
    }

    enum Number {
        case integer(Int)
        /// A fraction, an exponent, or an integer outside `Int`'s range, as written.
        case other(String)
    }

    let bytes: [UInt8]
    private(set) var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    var nextIsNumber: Bool {
        guard let b = peek else { return false }
        return b == UInt8(ascii: "-") || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    /// What kind of value (or byte) comes next, for error messages.
    func describeNext() -> String {
        guard let b = peek else { return "the end of the header" }
        switch b {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(b)))'"
        default: return "byte 0x\(String(b, radix: 16))"
        }
    }

    private func failure(_ message: String) -> Failure { Failure(message: message, offset: position) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        if position < bytes.count && bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard consume(byte) else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))' but found \(describeNext())")
        }
    }

    /// Iterates an object's members; `body` is called positioned at each value and must consume it.
    mutating func objectMembers(_ body: (inout HeaderJSON, String) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw failure("expected a string key but found \(describeNext())") }
            let key = try parseString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return }
            throw failure("expected ',' or '}' but found \(describeNext())")
        }
    }

    /// Iterates an array's elements; `body` is called positioned at each element and must consume it.
    mutating func arrayElements(_ body: (inout HeaderJSON) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return }
        while true {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return }
            throw failure("expected ',' or ']' but found \(describeNext())")
        }
    }

    /// Parses a string literal (positioned at its opening quote), decoding escapes and validating UTF-8.
    mutating func parseString() throws -> String {
        let start = position
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else {
                throw Failure(message: "unterminated string", offset: start)
            }
            let b = bytes[position]
            position += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else {
                    throw Failure(message: "string is not valid UTF-8", offset: start)
                }
                return text
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0x00..<0x20:
                position -= 1
                throw failure("unescaped control character in a string")
            default:
                out.append(b)
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws {
        guard position < bytes.count else { throw failure("unterminated escape sequence") }
        let b = bytes[position]
        position += 1
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(b)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")) else {
                    throw failure("unpaired surrogate in \\u escape")
                }
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw failure("unpaired surrogate in \\u escape")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
            out.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            position -= 1
            throw failure("invalid escape sequence")
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Parses a number with strict JSON grammar: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    mutating func parseNumber() throws -> Number {
        let start = position
        let negative = consume(UInt8(ascii: "-"))
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ?? false }
        guard isDigit(peek) else { throw failure("invalid number") }
        var magnitude = 0
        var fits = true
        if consume(UInt8(ascii: "0")) {
            if isDigit(peek) { throw failure("leading zero in a number") }
        } else {
            while let b = peek, isDigit(b) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
                if o1 || o2 { fits = false } else { magnitude = sum }
                position += 1
            }
        }
        var integral = true
        if consume(UInt8(ascii: ".")) {
            integral = false
            guard isDigit(peek) else { throw failure("invalid number: no digits after '.'") }
            while isDigit(peek) { position += 1 }
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            integral = false
            _ = consume(UInt8(ascii: "+")) || consume(UInt8(ascii: "-"))
            guard isDigit(peek) else { throw failure("invalid number: no digits in the exponent") }
            while isDigit(peek) { position += 1 }
        }
        if integral && fits { return .integer(negative ? -magnitude : magnitude) }
        let text = String(decoding: bytes[start..<position].prefix(40), as: UTF8.self)
        return .other(position - start > 40 ? text + "…" : text)
    }

    private mutating func parseLiteral(_ word: StaticString) throws {
        let expected = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for b in expected {
            guard consume(b) else { throw failure("invalid literal") }
        }
    }

    /// Validates and skips one value of any kind, iteratively (deep nesting cannot overflow the stack).
    mutating func skipValue() throws {
        var open: [Bool] = []  // true: inside an object, false: inside an array
        while true {
            skipWhitespace()
            guard let b = peek else { throw failure("unexpected end of the header") }
            var opened = false
            switch b {
            case UInt8(ascii: "{"):
                position += 1
                skipWhitespace()
                if !consume(UInt8(ascii: "}")) {
                    open.append(true)
                    opened = true
                    try skipKey()
                }
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if !consume(UInt8(ascii: "]")) {
                    open.append(false)
                    opened = true
                }
            case UInt8(ascii: "\""): _ = try parseString()
            case UInt8(ascii: "t"): try parseLiteral("true")
            case UInt8(ascii: "f"): try parseLiteral("false")
            case UInt8(ascii: "n"): try parseLiteral("null")
            default:
                guard nextIsNumber else { throw failure("unexpected \(describeNext())") }
                _ = try parseNumber()
            }
            if opened { continue }  // read the container's first value
            // A value is complete: close finished containers, or move on to the next element.
            while let inObject = open.last {
                skipWhitespace()
                if consume(UInt8(ascii: ",")) {
                    if inObject { try skipKey() }
                    break
                }
                if consume(inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    open.removeLast()
                    continue
                }
                throw failure("expected ',' or '\(inObject ? "}" : "]")' but found \(describeNext())")
            }
            if open.isEmpty { return }
        }
    }

    private mutating func skipKey() throws {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw failure("expected a string key but found \(describeNext())") }
        _ = try parseString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"))
    }
}
