/// Kernels that only move floats, each a walk of the source with per-axis
/// strides into a contiguous output: Transpose (permuted strides), Slice
/// (strides times steps from a start offset), Expand and broadcasts (stride 0
/// along broadcast axes), Tile (the output seen with a repeat axis before
/// each axis, of stride 0), DepthToSpace and SpaceToDepth (the output seen as
/// six or five axes, each a stride of the input). Rows whose source stride is
/// 1 are block copies, 0 a fill, anything else a strided gather.
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

    /// Output axis a of length repeats[a]·d[a] seen as (repeats[a], d[a]).
    static func tile(_ input: Tensor, repeats: [Int], output: Tensor) {
        let inputStrides = StridedLayout.contiguousStrides(input.shape)
        var dims: [Int] = [], strides: [Int] = []
        for axis in 0..<input.shape.rank {
            dims += [repeats[axis], input.shape[axis]]
            strides += [0, inputStrides[axis]]
        }
        copy(from: input.data, dims: dims, strides: strides, into: output.data)
    }

    /// Input (N, C, H, W) with C = b²·C'; the output (N, C', H·b, W·b) seen as
    /// (N, C', H, b, W, b), whose (n, c, h, i, w, j) reads input channel
    /// (i·b + j)·C' + c (DCR) or c·b² + i·b + j (CRD) at (h, w).
    static func depthToSpace(_ input: Tensor, blockSize b: Int, mode: DepthToSpaceMode, output: Tensor) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (plane, depth) = (h * w, c / (b * b))
        let strides = switch mode {
        case .dcr: [c * plane, plane, w, b * depth * plane, 1, depth * plane]
        case .crd: [c * plane, b * b * plane, w, b * plane, 1, plane]
        }
        copy(from: input.data, dims: [n, depth, h, b, w, b], strides: strides, into: output.data)
    }

    /// Input (N, C, H, W); the output (N, b²·C, H/b, W/b) seen as
    /// (N, b, b, C, H/b, W/b), whose (n, i, j, c, h, w) reads input
    /// (n, c, h·b + i, w·b + j).
    static func spaceToDepth(_ input: Tensor, blockSize b: Int, output: Tensor) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        copy(from: input.data, dims: [n, b, b, c, h / b, w / b], strides: [c * h * w, w, 1, h * w, b * w, b], into: output.data)
    }

    /// Writes, in row-major order of `dims`, the source element at
    /// Σ index[axis]·strides[axis] for every index.
    static func copy(from source: UnsafePointer<Float>, dims: [Int], strides: [Int], into destination: UnsafeMutablePointer<Float>) {
        let layout = StridedLayout(dims: dims, operandStrides: [strides])
        var cursor = RowCursor(layout)
        let length = layout.rowLength
        let step = layout.strides[0][layout.dims.count - 1]
        if layout.rowCount == 1 && step == 1 {
            // One contiguous run (a Split or Slice of whole channels of one image): across the pool's threads.
            let from = source + cursor.offsets[0]
            ParallelRanges.run(count: length) { start, end in (destination + start).update(from: from + start, count: end - start) }
            return
        }
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

/// ONNX GatherElements: the output has the indices' shape, and each output
/// element reads data at its own position with the `axis` coordinate
/// replaced by its index. One walk of the indices in memory order keeps the
/// data offset of every coordinate but `axis`.
enum GatherElements {
    static func run(data: Tensor, indices: Tensor, axis: Int, output: Tensor) throws(OperatorError) {
        let length = data.shape[axis]
        for position in 0..<indices.elementCount {
            let value = indices.data[position]
            guard value.rounded(.towardZero) == value, value >= -Float(length), value < Float(length) else {
                throw OperatorError(.indexOutOfRange,
                    "GatherElements index \(value) at position \(position) of indices \(indices.shape) is out of range for axis \(axis) of data \(data.shape); it must be a whole number in \(-length)..<\(length)")
            }
        }
        let dataStrides = StridedLayout.contiguousStrides(data.shape)
        let dims = indices.shape.dims
        var coordinate = [Int](repeating: 0, count: dims.count)
        var base = 0
        for position in 0..<indices.elementCount {
            var index = Int(indices.data[position])
            if index < 0 { index += length }
            output.data[position] = data.data[base + index * dataStrides[axis]]
            var a = dims.count - 1
            while a >= 0 {
                coordinate[a] += 1
                if a != axis { base += dataStrides[a] }
                if coordinate[a] < dims[a] { break }
                if a != axis { base -= dataStrides[a] * dims[a] }
                coordinate[a] = 0
                a -= 1
            }
        }
    }
}
