/// SplitMix64: a small, fast generator whose stream depends only on its seed,
/// so the same seed writes the same model bytes on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), from the top 24 bits (exact in float32).
    public mutating func nextSigned() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 40) - (1 << 23)) * (1.0 / Float(1 << 23))
    }

    /// Uniform in [low, high).
    public mutating func next(in low: Float, _ high: Float) -> Float {
        low + (high - low) * (nextSigned() * 0.5 + 0.5)
    }

    /// Fills `values` with uniform numbers in [-bound, bound).
    public mutating func fill(_ values: UnsafeMutableBufferPointer<Float>, bound: Float) {
        for index in values.indices { values[index] = nextSigned() * bound }
    }
}
