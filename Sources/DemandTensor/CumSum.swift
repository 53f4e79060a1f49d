/// ONNX CumSum along one axis: y[k] = Σ x[j] over j ≤ k (j < k when
/// `exclusive`), counted from the end of the axis when `reverse`.
public struct CumSumParameters: Hashable, Sendable {
    /// The axis summed along (negative from the end).
    public var axis: Int
    /// Whether each output leaves out its own input.
    public var exclusive: Bool
    /// Whether the sums run from the last index towards the first.
    public var reverse: Bool

    /// Running sums along `axis`; ONNX's defaults are inclusive and forward.
    public init(axis: Int, exclusive: Bool = false, reverse: Bool = false) {
        self.axis = axis
        self.exclusive = exclusive
        self.reverse = reverse
    }
}

/// CumSum over the input viewed as (outer, length, inner) around the axis:
/// each output row of `inner` floats is the previous output row plus one
/// input row, in float32 and in order along the axis, so every thread count
/// and every run gives the same bits.
enum CumSum {
    static func run(_ p: CumSumParameters, input: Tensor, output: Tensor) {
        let dims = input.shape.dims
        let axis = normalized(p.axis, rank: dims.count)
        let (outer, length, inner) = (dims[..<axis].reduce(1, *), dims[axis], dims[(axis + 1)...].reduce(1, *))
        for o in 0..<outer {
            let x = UnsafePointer(input.data + o * length * inner)
            let y = output.data + o * length * inner
            var previous: Int?
            for step in 0..<length {
                let l = p.reverse ? length - 1 - step : step
                let destination = y + l * inner
                if let previous {
                    let sum = UnsafePointer(y + previous * inner)
                    let added = p.exclusive ? x + previous * inner : x + l * inner
                    for i in 0..<inner { destination[i] = sum[i] + added[i] }
                } else if p.exclusive {
                    destination.update(repeating: 0, count: inner)
                } else {
                    destination.update(from: x + l * inner, count: inner)
                }
                previous = l
            }
        }
    }
}
