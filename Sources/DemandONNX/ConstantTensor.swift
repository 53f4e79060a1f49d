/// A tensor whose values are known at convert time: an initializer, a
/// `Constant` node's value or a folded result.
///
/// Integers (and bools, as 0/1) stay `Int64` so shape arithmetic is exact
/// (a Slice end of INT64_MAX survives folding); floating-point values are
/// float32, as the runtime computes them.
struct ConstantTensor: Sendable, Equatable {
    enum Values: Sendable, Equatable {
        case floats([Float])
        case ints([Int64])
    }

    var shape: [Int]
    var values: Values

    init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "\(floats.count) values for \(shape)")
        self.shape = shape
        self.values = .floats(floats)
    }

    init(shape: [Int], ints: [Int64]) {
        precondition(ints.count == shape.reduce(1, *), "\(ints.count) values for \(shape)")
        self.shape = shape
        self.values = .ints(ints)
    }

    /// A rank-1 integer tensor.
    init(ints: [Int64]) { self.init(shape: [ints.count], ints: ints) }

    var count: Int { shape.reduce(1, *) }
    var isInteger: Bool { if case .ints = values { true } else { false } }

    /// The values as integers (floats truncated toward zero, as Cast does).
    var ints: [Int64] {
        switch values {
        case .ints(let list): list
        case .floats(let list): list.map { $0.isFinite ? Int64(exactly: $0.rounded(.towardZero)) ?? ($0 < 0 ? .min : .max) : 0 }
        }
    }

    /// The values as float32 (integers rounded to the nearest float).
    var floats: [Float] {
        switch values {
        case .floats(let list): list
        case .ints(let list): list.map { Float($0) }
        }
    }

    /// The values as float32 for storing as a weight, refusing integers the
    /// float can not hold exactly (|v| > 2^24).
    func exactFloats(name: String) throws(ImportError) -> [Float] {
        if case .ints(let list) = values, let bad = list.first(where: { $0.magnitude > 1 << 24 }) {
            throw ImportError(.valueRange,
                "constant '\(name)' holds the integer \(bad), which float32 (the runtime's only element type) cannot hold exactly; only |v| ≤ 16777216 can be stored")
        }
        return floats
    }

    /// The same values with another shape of the same element count.
    func reshaped(_ newShape: [Int]) -> ConstantTensor {
        var copy = self
        copy.shape = newShape
        return copy
    }
}
