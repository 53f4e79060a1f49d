import DemandTensor
import DemandZoo

/// Test inputs from the zoo's SplitMix64 generator, so every run of the tests
/// sees the same inputs on every platform.
extension SeededRandom {
    /// A seed derived from a case name (FNV-1a), stable across runs, unlike `hashValue`.
    init(name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.init(seed: hash)
    }

    /// A tensor of uniform values in [-scale, scale).
    mutating func tensor(_ shape: Shape, scale: Float) -> Tensor {
        let tensor = Tensor(zeros: shape)
        fill(tensor.buffer, bound: scale)
        return tensor
    }

    /// A tensor of values from `domain`.
    mutating func tensor(_ shape: Shape, _ domain: OperatorCase.Domain) -> Tensor {
        let tensor = Tensor(zeros: shape)
        fill(tensor.buffer, bound: 1)
        for i in 0..<tensor.elementCount {
            let unit = (tensor.data[i] + 1) / 2   // in [0, 1)
            tensor.data[i] = switch domain {
            case .uniform(let bound): tensor.data[i] * bound
            case .range(let low, let high): low + unit * (high - low)
            case .indices(let count): min(Float(count - 1), (unit * Float(2 * count)).rounded(.down) - Float(count))
            case .naturals(let count): min(Float(count - 1), (unit * Float(count)).rounded(.down))
            case .halves(let bound): min(Float(bound) - 0.5, (unit * Float(4 * bound)).rounded(.down) / 2 - Float(bound))
            case .nonzeroIntegers(let bound): Self.skippingZero(min(Float(2 * bound - 1), (unit * Float(2 * bound)).rounded(.down)), bound)
            }
        }
        return tensor
    }

    /// Step `k` in 0..<2·bound of the whole numbers -bound...-1, 1...bound.
    private static func skippingZero(_ k: Float, _ bound: Int) -> Float {
        k < Float(bound) ? k - Float(bound) : k - Float(bound) + 1
    }
}
