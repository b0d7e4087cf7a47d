// A seeded PRNG of the module's own (SplitMix64), so the same seed gives byte-identical scenes on every machine.

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, full period, good enough statistics for scene layout.
/// Only integer arithmetic and exact Double conversions, so results are identical on every platform.
public struct SceneRandom: Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SceneRandom.mix(state)
    }

    /// A uniform value in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform value in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }

    /// A uniform integer in the closed range.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability p.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// -1 or +1 with equal odds.
    public mutating func sign() -> Double { chance(0.5) ? -1 : 1 }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    /// The SplitMix64 finaliser: a strong 64-bit mix.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A hash of two values (for per-frame seeds and per-object details).
    @inline(__always)
    public static func hash(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(a &+ 0x9E37_79B9_7F4A_7C15 &* (b &+ 1))
    }

    /// A value in [0, 1) from a hash of two values.
    @inline(__always)
    static func unitHash(_ a: UInt64, _ b: UInt64) -> Double { Double(hash(a, b) >> 11) * 0x1.0p-53 }
}
