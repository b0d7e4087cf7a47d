/// Bit-exact conversions between `Float` and the two 16-bit float formats found in safetensors files:
/// IEEE 754 binary16 ("F16") and bfloat16 ("BF16").
///
/// Implemented with integer bit manipulation (no `Float16` type), so the results are the same on every platform.
/// Widening (16 → 32 bits) is exact for every input, subnormals, infinities and NaNs included.
/// Narrowing (32 → 16 bits) rounds to nearest, ties to even, as IEEE 754 prescribes; values too large for
/// the format become infinities, NaNs stay NaNs (quiet, sign and leading payload bits kept).
public enum HalfPrecision {
    // MARK: binary16

    /// Widens IEEE binary16 bits to a `Float`, exactly.
    @inline(__always)
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:
            if mantissa == 0 { return Float(bitPattern: sign) }  // ±0
            // Subnormal: mantissa · 2^-24. Both factors and the product are exact in Float.
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // 2^-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            // Infinity (mantissa 0) or NaN (payload kept in the top mantissa bits).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            // Normal: rebias the exponent from 15 to 127.
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// Narrows a `Float` to IEEE binary16 bits, rounding to nearest, ties to even.
    @inline(__always)
    public static func floatToF16(_ v: Float) -> UInt16 {
        let x = v.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        let mantissa = x & 0x007F_FFFF

        if exponent == 0xFF {
            if mantissa == 0 { return sign | 0x7C00 }  // ±inf
            // NaN: keep the top payload bits and force the quiet bit so the result cannot become infinity.
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }  // overflow → ±inf
        if halfExponent <= 0 {
            // Result is subnormal or zero, in units of 2^-24. Float subnormals (exponent 0) are far below
            // half of the smallest binary16 subnormal and round to zero.
            if exponent == 0 { return sign }
            let significand = mantissa | 0x0080_0000  // 24 bits, value = significand · 2^(exponent - 150)
            let shift = 126 - exponent  // ≥ 14 here
            if shift > 24 { return sign }  // below 2^-25: rounds to zero
            var q = significand >> UInt32(shift)
            let remainder = significand & ((1 << UInt32(shift)) - 1)
            let half = UInt32(1) << UInt32(shift - 1)
            if remainder > half || (remainder == half && (q & 1) == 1) { q += 1 }
            // q may reach 0x400, which is exactly the smallest normal's bit pattern.
            return sign | UInt16(truncatingIfNeeded: q)
        }
        var h = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && (h & 1) == 1) {
            h += 1  // a carry out of the mantissa correctly bumps the exponent; 0x7C00 is infinity
        }
        return sign | UInt16(truncatingIfNeeded: h)
    }

    // MARK: bfloat16

    /// Widens bfloat16 bits to a `Float`, exactly (bfloat16 is the top half of a binary32).
    @inline(__always)
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Narrows a `Float` to bfloat16 bits, rounding to nearest, ties to even.
    @inline(__always)
    public static func floatToBF16(_ v: Float) -> UInt16 {
        let x = v.bitPattern
        if v.isNaN {
            // Truncation could clear every payload bit and turn the NaN into an infinity: force the quiet bit.
            return UInt16(truncatingIfNeeded: x >> 16) | 0x0040
        }
        // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; the carry may reach the exponent
        // (correctly producing the next binade, or infinity above the largest finite bfloat16).
        let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
