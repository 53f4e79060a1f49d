import DemandTensor

/// SplitMix64: a tiny deterministic generator, so every run of the tests
/// sees the same inputs on every platform.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A seed derived from a case name (FNV-1a), stable across runs, unlike `hashValue`.
    init(name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.init(seed: hash)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale).
    mutating func nextFloat(scale: Float) -> Float {
        let unit = Float(next() >> 40) / Float(1 << 24)
        return (2 * unit - 1) * scale
    }

    mutating func tensor(_ shape: Shape, scale: Float) -> Tensor {
        var values = [Float](repeating: 0, count: shape.elementCount)
        for i in values.indices { values[i] = nextFloat(scale: scale) }
        return Tensor(shape: shape, values: values)
    }
}
