/// Kernels that only move floats, each a walk of the source with per-axis
/// strides into a contiguous output: Transpose (permuted strides), Slice
/// (strides times steps from a start offset), Expand and broadcasts (stride 0
/// along broadcast axes). Rows whose source stride is 1 are block copies, 0
/// a fill, anything else a strided gather.
enum StridedCopy {
    static func transpose(_ input: Tensor, perm: [Int], output: Tensor) {
        let inputStrides = StridedLayout.contiguousStrides(input.shape)
        copy(from: input.data, dims: output.shape.dims, strides: perm.map { inputStrides[$0] }, into: output.data)
    }

    /// `input` broadcast (numpy rules) to the output's shape.
    static func broadcast(_ input: Tensor, output: Tensor) {
        if input.elementCount == output.elementCount {
            output.data.update(from: input.data, count: output.elementCount)
            return
        }
        copy(from: input.data, dims: output.shape.dims,
             strides: StridedLayout.broadcastStrides(of: input.shape, over: output.shape), into: output.data)
    }

    static func slice(_ input: Tensor, _ slice: SliceParameters.Resolved, output: Tensor) {
        let inputStrides = StridedLayout.contiguousStrides(input.shape)
        var start = 0
        var strides = inputStrides
        for axis in 0..<input.shape.rank {
            start += slice.starts[axis] * inputStrides[axis]
            strides[axis] *= slice.steps[axis]
        }
        copy(from: input.data + start, dims: output.shape.dims, strides: strides, into: output.data)
    }

    /// Writes, in row-major order of `dims`, the source element at
    /// Σ index[axis]·strides[axis] for every index.
    static func copy(from source: UnsafePointer<Float>, dims: [Int], strides: [Int], into destination: UnsafeMutablePointer<Float>) {
        let layout = StridedLayout(dims: dims, operandStrides: [strides])
        var cursor = RowCursor(layout)
        let length = layout.rowLength
        let step = layout.strides[0][layout.dims.count - 1]
        for rowIndex in 0..<layout.rowCount {
            let from = source + cursor.offsets[0]
            let to = destination + rowIndex * length
            switch step {
            case 1: to.update(from: from, count: length)
            case 0: to.update(repeating: from[0], count: length)
            default: for i in 0..<length { to[i] = from[i * step] }
            }
            cursor.advance()
        }
    }
}

/// ONNX Gather: data viewed as (outer, dims[axis], inner) around `axis`;
/// for each outer index and each index value, one run of `inner` floats.
package enum Gather {
    static func run(data: Tensor, indices: Tensor, axis: Int, output: Tensor) throws(OperatorError) {
        let dims = data.shape.dims
        let length = dims[axis]
        let outer = dims[..<axis].reduce(1, *)
        let inner = dims[(axis + 1)...].reduce(1, *)
        let count = indices.elementCount
        // Every index is checked before anything is written.
        try check(indices, axis: axis, of: data.shape)
        for o in 0..<outer {
            let source = data.data + o * length * inner
            let destination = output.data + o * count * inner
            for position in 0..<count {
                var index = Int(indices.data[position])
                if index < 0 { index += length }
                let to = destination + position * inner
                if inner == 1 {
                    to[0] = source[index]
                } else {
                    to.update(from: source + index * inner, count: inner)
                }
            }
        }
    }

    /// Throws `.indexOutOfRange`, naming the first bad index, unless every
    /// index is a whole number in -n..<n for n = `dataShape[axis]`.
    package static func check(_ indices: Tensor, axis: Int, of dataShape: Shape) throws(OperatorError) {
        let length = dataShape[axis]
        for position in 0..<indices.elementCount {
            let value = indices.data[position]
            guard value.rounded(.towardZero) == value, value >= -Float(length), value < Float(length) else {
                throw OperatorError(.indexOutOfRange,
                    "Gather index \(value) at position \(position) of indices \(indices.shape) is out of range for axis \(axis) of data \(dataShape); it must be a whole number in \(-length)..<\(length)")
            }
        }
    }
}
