// The byte-level half of the unpickler: bounded reads of the opcode stream and the decoders of its text and
// number encodings (Pickle.swift has the stack machine).

extension Unpickler {
    // MARK: reading


    func need(_ n: Int) throws {
        guard n >= 0, let e = pos.torchAdding(n), e <= b.count else {
            throw fail("truncated pickle: needs \(n) more bytes, \(b.count - pos) left")
        }
    }
    func u8() throws -> UInt8 { try need(1); defer { pos += 1 }; return b[pos] }
    func le(_ n: Int) throws -> UInt64 {
        try need(n)
        var v: UInt64 = 0
        for i in 0 ..< n { v |= UInt64(b[pos + i]) << (8 * UInt64(i)) }
        pos += n
        return v
    }
    func take(_ n: Int) throws -> [UInt8] {
        try need(n)
        defer { pos += n }
        return Array(b[pos ..< pos + n])
    }
    func takeLength(_ raw: UInt64) throws -> [UInt8] {
        guard raw <= UInt64(b.count - pos) else { throw fail("truncated pickle: length \(raw) exceeds the \(b.count - pos) bytes left") }
        return try take(Int(raw))
    }
    func line() throws -> [UInt8] {
        guard let nl = b[pos...].firstIndex(of: 0x0a) else { throw fail("truncated pickle: unterminated text line") }
        defer { pos = nl + 1 }
        var l = Array(b[pos ..< nl])
        if l.last == 0x0d { l.removeLast() }
        return l
    }
    func utf8(_ bytes: [UInt8]) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }
    func ascii(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: decoding

    func decimal(_ l: [UInt8]) throws -> Int {
        guard let v = Int(ascii(l)), v >= 0 else { throw fail("bad memo index") }
        return v
    }

    func decodeLong(_ bytes: [UInt8]) -> PickleValue {
        if bytes.isEmpty { return .int(0) }
        let negative = bytes.last! & 0x80 != 0
        let fill: UInt8 = negative ? 0xFF : 0
        if bytes.count > 8 {
            // Fits if every byte above the 8th is a sign extension of bit 63.
            let signOK = (bytes[7] & 0x80 != 0) == negative
            if !(signOK && bytes[8...].allSatisfy({ $0 == fill })) { return .bigInt(bytes) }
        }
        var v: UInt64 = 0
        for i in 0 ..< 8 { v |= UInt64(i < bytes.count ? bytes[i] : fill) << (8 * UInt64(i)) }
        return .int(Int64(bitPattern: v))
    }

    /// Python 2 `str`: decoded as UTF-8 when valid (as torch.load does), otherwise kept as bytes.
    func pyStr(_ bytes: [UInt8]) -> PickleValue {
        if let s = String(validating: bytes, as: UTF8.self) { return .string(s) }
        return .bytes(bytes)
    }

    func quotedString(_ l: [UInt8]) throws -> [UInt8] {
        guard l.count >= 2, let q = l.first, q == 0x27 || q == 0x22, l.last == q else { throw fail("STRING is not quoted") }
        var out: [UInt8] = []
        var i = 1
        let end = l.count - 1
        while i < end {
            let c = l[i]
            if c == 0x5c, i + 1 < end {
                let e = l[i + 1]
                i += 2
                switch e {
                case 0x6e: out.append(0x0a)
                case 0x74: out.append(0x09)
                case 0x72: out.append(0x0d)
                case 0x78:
                    guard i + 2 <= end, let v = UInt8(ascii(Array(l[i ..< i + 2])), radix: 16) else { throw fail("bad \\x escape") }
                    out.append(v)
                    i += 2
                default: out.append(e)
                }
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    func rawUnicodeEscape(_ l: [UInt8]) throws -> String {
        var s = String.UnicodeScalarView()
        var i = 0
        while i < l.count {
            if l[i] == 0x5c, i + 1 < l.count, l[i + 1] == 0x75 || l[i + 1] == 0x55 {
                let n = l[i + 1] == 0x75 ? 4 : 8
                guard i + 2 + n <= l.count, let v = UInt32(ascii(Array(l[(i + 2) ..< (i + 2 + n)])), radix: 16),
                      let u = Unicode.Scalar(v) else { throw fail("bad \\u escape in UNICODE") }
                s.append(u)
                i += 2 + n
            } else {
                s.append(Unicode.Scalar(l[i]))
                i += 1
            }
        }
        return String(s)
    }
}
