/// Several operands walked together over one output shape: each operand's
/// stride along each output axis (0 where it broadcasts), with size-1 axes
/// dropped and adjacent axes merged wherever every operand stays contiguous
/// across them. The innermost axis is then as long as possible, and kernels
/// run a tight loop along it ("a row") for each index of the outer axes.
///
/// Used by the broadcast elementwise ops (operands are the inputs), the
/// copies that only move floats (Transpose, Slice, Expand: one operand, the
/// source) and the reductions (operands are the input and the output).
struct StridedLayout {
    /// Merged axis sizes, outermost first; never empty.
    private(set) var dims: [Int] = []
    /// `strides[operand][axis]`, in floats.
    private(set) var strides: [[Int]]

    /// `operandStrides[operand]` holds one stride per axis of `dims`.
    init(dims fullDims: [Int], operandStrides: [[Int]]) {
        strides = Array(repeating: [], count: operandStrides.count)
        for axis in fullDims.indices where fullDims[axis] != 1 {
            let size = fullDims[axis]
            let mergeable = !dims.isEmpty && operandStrides.indices.allSatisfy { operand in
                strides[operand][dims.count - 1] == operandStrides[operand][axis] * size
            }
            if mergeable {
                dims[dims.count - 1] *= size
                for operand in operandStrides.indices { strides[operand][dims.count - 1] = operandStrides[operand][axis] }
            } else {
                dims.append(size)
                for operand in operandStrides.indices { strides[operand].append(operandStrides[operand][axis]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            for operand in operandStrides.indices { strides[operand] = [0] }
        }
    }

    /// A layout for `operands` broadcast (numpy rules) onto `output`.
    init(broadcasting operands: [Shape], onto output: Shape) {
        self.init(dims: output.dims, operandStrides: operands.map { Self.broadcastStrides(of: $0, over: output) })
    }

    var rowLength: Int { dims[dims.count - 1] }
    var rowCount: Int { dims.dropLast().reduce(1, *) }

    /// Row-major strides of `shape` aligned right against `output`, 0 where it broadcasts.
    static func broadcastStrides(of shape: Shape, over output: Shape) -> [Int] {
        var strides = [Int](repeating: 0, count: output.rank)
        var step = 1
        for axis in (0..<shape.rank).reversed() {
            strides[axis + output.rank - shape.rank] = shape[axis] == 1 ? 0 : step
            step *= shape[axis]
        }
        return strides
    }

    /// Row-major strides of a contiguous tensor of this shape.
    static func contiguousStrides(_ shape: Shape) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.rank)
        for axis in stride(from: shape.rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        return strides
    }
}

/// Walks the rows of a `StridedLayout` in order, keeping each operand's
/// offset of the current row's first element. Its arrays are sized once, so
/// stepping allocates nothing.
struct RowCursor {
    private let layout: StridedLayout
    private var index: [Int]
    /// Offset, in floats, of the current row's first element in each operand.
    private(set) var offsets: [Int]

    init(_ layout: StridedLayout, baseOffsets: [Int]? = nil) {
        self.layout = layout
        index = [Int](repeating: 0, count: layout.dims.count)
        offsets = baseOffsets ?? [Int](repeating: 0, count: layout.strides.count)
    }

    /// Moves to the next row (the outer axes counted like an odometer).
    @inline(__always)
    mutating func advance() {
        var axis = layout.dims.count - 2
        while axis >= 0 {
            index[axis] += 1
            for operand in offsets.indices { offsets[operand] += layout.strides[operand][axis] }
            if index[axis] < layout.dims[axis] { return }
            for operand in offsets.indices { offsets[operand] -= layout.strides[operand][axis] * layout.dims[axis] }
            index[axis] = 0
            axis -= 1
        }
    }
}
