/// ONNX ReduceSum and ReduceMean: over `axes` (every axis when nil or
/// empty), keeping them as size 1 when `keepDims`.
public struct ReduceParameters: Hashable, Sendable {
    /// What the reduction computes.
    public enum Kind: Hashable, Sendable {
        /// ReduceSum.
        case sum
        /// ReduceMean.
        case mean
    }

    /// Sum or mean.
    public var kind: Kind
    /// The axes reduced (negative from the end); nil or empty reduces every axis.
    public var axes: [Int]?
    /// Whether reduced axes stay in the output as size 1.
    public var keepDims: Bool

    /// A reduction over `axes`, keeping them by default (ONNX keepdims = 1).
    public init(kind: Kind, axes: [Int]? = nil, keepDims: Bool = true) {
        self.kind = kind
        self.axes = axes
        self.keepDims = keepDims
    }

    /// Whether each axis of a rank-`rank` input is reduced.
    func reducedAxes(rank: Int) -> [Bool] {
        guard let axes, !axes.isEmpty else { return .init(repeating: true, count: rank) }
        var reduced = [Bool](repeating: false, count: rank)
        for axis in axes { reduced[normalized(axis, rank: rank)] = true }
        return reduced
    }
}

/// Reductions as one walk of the input in memory order: each input row adds
/// into the output either as one total (the row runs along reduced axes) or
/// elementwise (it runs along kept axes).
enum Reduce {
    static func run(_ p: ReduceParameters, input: Tensor, output: Tensor) {
        let reduced = p.reducedAxes(rank: input.shape.rank)
        var outputStrides = [Int](repeating: 0, count: input.shape.rank)
        var step = 1
        for axis in (0..<input.shape.rank).reversed() where !reduced[axis] {
            outputStrides[axis] = step
            step *= input.shape[axis]
        }
        let layout = StridedLayout(dims: input.shape.dims, operandStrides: [StridedLayout.contiguousStrides(input.shape), outputStrides])
        var cursor = RowCursor(layout)
        let length = layout.rowLength
        let outputStep = layout.strides[1][layout.dims.count - 1]
        output.data.update(repeating: 0, count: output.elementCount)
        for _ in 0..<layout.rowCount {
            let source = input.data + cursor.offsets[0]
            let destination = output.data + cursor.offsets[1]
            if outputStep == 0 {
                destination[0] += Normalization.sum(source, count: length)
            } else {
                for i in 0..<length { destination[i] += source[i] }
            }
            cursor.advance()
        }
        if p.kind == .mean {
            let scale = Float(output.elementCount) / Float(input.elementCount)
            for i in 0..<output.elementCount { output.data[i] *= scale }
        }
    }
}
