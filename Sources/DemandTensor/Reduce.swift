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

/// ONNX ArgMax and ArgMin: the index along `axis` of the largest (smallest)
/// value, the first one on ties unless `selectLastIndex`. The index is
/// written as a float32 value, as the runtime holds every integer (exact
/// below 2^24).
public struct ArgReduceParameters: Hashable, Sendable {
    /// Which extreme is looked for; the raw value is the ONNX op type.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// ArgMax.
        case max = "ArgMax"
        /// ArgMin.
        case min = "ArgMin"
    }

    /// Largest or smallest.
    public var kind: Kind
    /// The axis searched (negative from the end).
    public var axis: Int
    /// Whether the searched axis stays in the output as size 1.
    public var keepDims: Bool
    /// Whether ties give the last index rather than the first.
    public var selectLastIndex: Bool

    /// ONNX's defaults: axis 0, keepdims 1, select_last_index 0.
    public init(kind: Kind, axis: Int = 0, keepDims: Bool = true, selectLastIndex: Bool = false) {
        self.kind = kind
        self.axis = axis
        self.keepDims = keepDims
        self.selectLastIndex = selectLastIndex
    }
}

/// ArgMax and ArgMin over the input viewed as (outer, length, inner): the
/// first row of each block starts the search, and every later row replaces
/// the best value and its index wherever it wins, row by row in memory order.
enum ArgReduce {
    static func run(_ p: ArgReduceParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        let dims = input.shape.dims
        let axis = normalized(p.axis, rank: dims.count)
        let (outer, length, inner) = (dims[..<axis].reduce(1, *), dims[axis], dims[(axis + 1)...].reduce(1, *))
        let best = workspace.floats(inner)
        for o in 0..<outer {
            let x = UnsafePointer(input.data + o * length * inner)
            let y = output.data + o * inner
            best.update(from: x, count: inner)
            y.update(repeating: 0, count: inner)
            for l in 1..<length {
                let row = x + l * inner
                let index = Float(l)
                for i in 0..<inner {
                    let wins = switch (p.kind, p.selectLastIndex) {
                    case (.max, false): row[i] > best[i]
                    case (.max, true): row[i] >= best[i]
                    case (.min, false): row[i] < best[i]
                    case (.min, true): row[i] <= best[i]
                    }
                    if wins {
                        best[i] = row[i]
                        y[i] = index
                    }
                }
            }
        }
    }
}

