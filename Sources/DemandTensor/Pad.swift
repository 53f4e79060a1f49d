/// ONNX Pad over any rank. Each output row (last axis) maps to one source
/// row, found per axis from the row's index; constant mode fills rows that
/// map outside the input. Within a row, the middle is one block copy and the
/// padded ends are mapped cell by cell.
enum Pad {
    static func run(_ parameters: PadParameters, input: Tensor, output: Tensor) {
        let rank = input.shape.rank
        let inDims = input.shape.dims, outDims = output.shape.dims
        let inStrides = StridedLayout.contiguousStrides(input.shape)
        let last = rank - 1
        let (begin, _) = parameters.padding(axis: last, rank: rank)
        let (inWidth, outWidth) = (inDims[last], outDims[last])
        // Output columns whose source column lies inside the input: a block copy.
        let middleStart = Swift.min(Swift.max(0, begin), outWidth)
        let middle = middleStart..<Swift.max(middleStart, Swift.min(outWidth, inWidth + begin))
        var index = [Int](repeating: 0, count: rank)
        for rowIndex in 0..<(output.elementCount / outWidth) {
            let destination = output.data + rowIndex * outWidth
            var sourceOffset = 0
            var inside = true
            for axis in 0..<last {
                guard let source = sourceIndex(index[axis] - parameters.pads[axis], length: inDims[axis], parameters.mode) else {
                    inside = false
                    break
                }
                sourceOffset += source * inStrides[axis]
            }
            if inside {
                let row = input.data + sourceOffset
                for ow in 0..<middle.lowerBound { destination[ow] = cell(row, ow - begin, inWidth, parameters) }
                if !middle.isEmpty { (destination + middle.lowerBound).update(from: row + (middle.lowerBound - begin), count: middle.count) }
                for ow in middle.upperBound..<outWidth { destination[ow] = cell(row, ow - begin, inWidth, parameters) }
            } else {
                destination.update(repeating: parameters.value, count: outWidth)
            }
            var axis = last - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outDims[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    @inline(__always)
    private static func cell(_ row: UnsafePointer<Float>, _ i: Int, _ length: Int, _ parameters: PadParameters) -> Float {
        guard let source = sourceIndex(i, length: length, parameters.mode) else { return parameters.value }
        return row[source]
    }

    /// The input index that position `i` (relative to the input's start) reads, or nil for the constant.
    @inline(__always)
    static func sourceIndex(_ i: Int, length: Int, _ mode: PadParameters.Mode) -> Int? {
        if i >= 0 && i < length { return i }
        switch mode {
        case .constant:
            return nil
        case .edge:
            return i < 0 ? 0 : length - 1
        case .reflect:
            // Pads are at most length - 1 (checked with the shape), so one reflection suffices.
            return i < 0 ? -i : 2 * (length - 1) - i
        }
    }
}
