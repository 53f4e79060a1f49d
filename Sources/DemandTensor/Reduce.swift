/// ONNX ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd and ReduceL2:
/// over `axes` (every axis when nil or empty), keeping them as size 1 when
/// `keepDims`.
public struct ReduceParameters: Hashable, Sendable {
    /// What the reduction computes; the raw value is the ONNX op type.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Σ x.
        case sum = "ReduceSum"
        /// Σ x / count.
        case mean = "ReduceMean"
        /// The largest value.
        case max = "ReduceMax"
        /// The smallest value.
        case min = "ReduceMin"
        /// Π x.
        case prod = "ReduceProd"
        /// √(Σ x²).
        case l2 = "ReduceL2"
    }

    /// Which reduction.
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

/// One reduction as a type, so each walk is specialized at compile time: the
/// value an output starts from, how one input value folds into it, how two
/// partial totals join, and the total of a contiguous run (eight lanes at a
/// time for the sum).
private protocol Reduction {
    static var identity: Float { get }
    static func combine(_ total: Float, _ x: Float) -> Float
    static func merge(_ total: Float, _ partial: Float) -> Float
    static func total(_ values: UnsafePointer<Float>, count: Int) -> Float
}

extension Reduction {
    @inline(__always)
    static func merge(_ total: Float, _ partial: Float) -> Float { combine(total, partial) }

    @inline(__always)
    static func total(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var total = identity
        for i in 0..<count { total = combine(total, values[i]) }
        return total
    }
}

private enum SumReduction: Reduction {
    static var identity: Float { 0 }
    @inline(__always) static func combine(_ total: Float, _ x: Float) -> Float { total + x }
    @inline(__always) static func total(_ values: UnsafePointer<Float>, count: Int) -> Float { Normalization.sum(values, count: count) }
}

private enum MaxReduction: Reduction {
    static var identity: Float { -.infinity }
    @inline(__always) static func combine(_ total: Float, _ x: Float) -> Float { x > total ? x : total }
}

private enum MinReduction: Reduction {
    static var identity: Float { .infinity }
    @inline(__always) static func combine(_ total: Float, _ x: Float) -> Float { x < total ? x : total }
}

private enum ProductReduction: Reduction {
    static var identity: Float { 1 }
    @inline(__always) static func combine(_ total: Float, _ x: Float) -> Float { total * x }
}

private enum SquareSumReduction: Reduction {
    static var identity: Float { 0 }
    @inline(__always) static func combine(_ total: Float, _ x: Float) -> Float { total + x * x }
    @inline(__always) static func merge(_ total: Float, _ partial: Float) -> Float { total + partial }
}

/// Reductions as one walk of the input in memory order: each input row folds
/// into the output either as one total (the row runs along reduced axes) or
/// elementwise (it runs along kept axes). Mean scales the sum afterwards and
/// L2 takes the square root of the sum of squares.
enum Reduce {
    static func run(_ p: ReduceParameters, input: Tensor, output: Tensor) {
        switch p.kind {
        case .sum, .mean: walk(SumReduction.self, input: input, output: output, reduced: p.reducedAxes(rank: input.shape.rank))
        case .max: walk(MaxReduction.self, input: input, output: output, reduced: p.reducedAxes(rank: input.shape.rank))
        case .min: walk(MinReduction.self, input: input, output: output, reduced: p.reducedAxes(rank: input.shape.rank))
        case .prod: walk(ProductReduction.self, input: input, output: output, reduced: p.reducedAxes(rank: input.shape.rank))
        case .l2: walk(SquareSumReduction.self, input: input, output: output, reduced: p.reducedAxes(rank: input.shape.rank))
        }
        switch p.kind {
        case .mean:
            let scale = Float(output.elementCount) / Float(input.elementCount)
            for i in 0..<output.elementCount { output.data[i] *= scale }
        case .l2:
            for i in 0..<output.elementCount { output.data[i] = output.data[i].squareRoot() }
        default:
            break
        }
    }

    private static func walk<R: Reduction>(_: R.Type, input: Tensor, output: Tensor, reduced: [Bool]) {
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
        output.data.update(repeating: R.identity, count: output.elementCount)
        for _ in 0..<layout.rowCount {
            let source = input.data + cursor.offsets[0]
            let destination = output.data + cursor.offsets[1]
            if outputStep == 0 {
                destination[0] = R.merge(destination[0], R.total(source, count: length))
            } else {
                for i in 0..<length { destination[i] = R.combine(destination[i], source[i]) }
            }
            cursor.advance()
        }
    }
}
