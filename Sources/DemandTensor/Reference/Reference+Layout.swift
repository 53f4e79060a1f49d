/// Reference ops that only move values: each output element found from its
/// multi-index by the ONNX definition.
extension Reference {
    static func copyInOrder(x: Tensor, y: Tensor) {
        for i in 0..<y.elementCount { y.data[i] = x.data[i] }
    }

    static func transpose(x: Tensor, perm: [Int], y: Tensor) {
        for i in 0..<y.elementCount {
            let outIndex = multiIndex(i, in: y.shape)
            var inIndex = [Int](repeating: 0, count: x.shape.rank)
            for (outAxis, inAxis) in perm.enumerated() { inIndex[inAxis] = outIndex[outAxis] }
            y.data[i] = x.data[offset(inIndex, in: x.shape)]
        }
    }

    static func expand(x: Tensor, y: Tensor) {
        for i in 0..<y.elementCount { y.data[i] = x.data[broadcastOffset(multiIndex(i, in: y.shape), x.shape)] }
    }

    /// The indices Slice picks along one axis of length `dim`, listed by
    /// stepping from the clamped start to the clamped end.
    static func sliceIndices(start: Int, end: Int, step: Int, dim: Int) -> [Int] {
        var first = start < 0 ? start + dim : start
        var last = end < 0 ? (end < -dim ? -1 : end + dim) : end   // end < -dim means "before the start"
        if step > 0 {
            first = Swift.max(0, Swift.min(first, dim))
            last = Swift.max(0, Swift.min(last, dim))
        } else {
            first = Swift.max(0, Swift.min(first, dim - 1))
            last = Swift.max(-1, Swift.min(last, dim - 1))
        }
        var picked: [Int] = []
        var i = first
        while step > 0 ? i < last : i > last {
            picked.append(i)
            i += step
        }
        return picked
    }

    static func slice(x: Tensor, _ p: SliceParameters, y: Tensor) {
        var picks = x.shape.dims.map { Array(0..<$0) }
        for i in p.starts.indices {
            let axis = p.axes.map { $0[i] < 0 ? $0[i] + x.shape.rank : $0[i] } ?? i
            picks[axis] = sliceIndices(start: p.starts[i], end: p.ends[i], step: p.steps?[i] ?? 1, dim: x.shape[axis])
        }
        for i in 0..<y.elementCount {
            let outIndex = multiIndex(i, in: y.shape)
            y.data[i] = x.data[offset(outIndex.enumerated().map { picks[$0.offset][$0.element] }, in: x.shape)]
        }
    }

    static func gather(data: Tensor, indices: Tensor, axis: Int, y: Tensor) {
        let axis = axis < 0 ? axis + data.shape.rank : axis
        for i in 0..<y.elementCount {
            let outIndex = multiIndex(i, in: y.shape)
            let indexIndex = Array(outIndex[axis..<(axis + indices.shape.rank)])
            var picked = Int(indices.data[offset(indexIndex, in: indices.shape)])
            if picked < 0 { picked += data.shape[axis] }
            let dataIndex = Array(outIndex[..<axis]) + [picked] + Array(outIndex[(axis + indices.shape.rank)...])
            y.data[i] = data.data[offset(dataIndex, in: data.shape)]
        }
    }

    static func pad(x: Tensor, _ p: PadParameters, y: Tensor) {
        let rank = x.shape.rank
        for i in 0..<y.elementCount {
            var inIndex = multiIndex(i, in: y.shape)
            var outside = false
            for axis in 0..<rank {
                let dim = x.shape[axis]
                var j = inIndex[axis] - p.pads[axis]
                if j < 0 || j >= dim {
                    switch p.mode {
                    case .constant: outside = true
                    case .edge: j = j < 0 ? 0 : dim - 1
                    case .reflect:
                        // Mirror about the first and last elements until inside.
                        while j < 0 || j >= dim { j = j < 0 ? -j : 2 * (dim - 1) - j }
                    }
                }
                inIndex[axis] = j
            }
            y.data[i] = outside ? p.value : x.data[offset(inIndex, in: x.shape)]
        }
    }

    static func resize(x: Tensor, _ p: ResizeParameters, y: Tensor) {
        // Input coordinate of output index `o` along axis 2 or 3, in Double.
        func source(_ o: Int, axis: Int) -> Double {
            let (inLength, outLength) = (Double(x.shape[axis]), Double(y.shape[axis]))
            let scale = p.scales.map { Double($0[axis]) } ?? outLength / inLength
            let o = Double(o)
            switch p.coordinateMode {
            case .halfPixel: return (o + 0.5) / scale - 0.5
            case .pytorchHalfPixel: return outLength > 1 ? (o + 0.5) / scale - 0.5 : 0
            case .alignCorners: return outLength == 1 ? 0 : o * (inLength - 1) / (outLength - 1)
            case .asymmetric: return o / scale
            }
        }
        func nearest(_ c: Double, length: Int) -> Int {
            let floor = c.rounded(.down)
            let isHalf = c - floor == 0.5
            let picked: Double = switch p.nearestMode {
            case .roundPreferFloor: isHalf ? floor : c.rounded(.toNearestOrAwayFromZero)
            case .roundPreferCeil: isHalf ? floor + 1 : c.rounded(.toNearestOrAwayFromZero)
            case .floor: floor
            case .ceil: c.rounded(.up)
            }
            return Swift.max(0, Swift.min(length - 1, Int(picked)))
        }
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let (n, c) = (index[0], index[1])
            let (sy, sx) = (source(index[2], axis: 2), source(index[3], axis: 3))
            let (height, width) = (x.shape[2], x.shape[3])
            switch p.mode {
            case .nearest:
                y.data[i] = x.data[offset(x.shape, n, c, nearest(sy, length: height), nearest(sx, length: width))]
            case .linear:
                let cy = Swift.max(0, Swift.min(Double(height - 1), sy)), cx = Swift.max(0, Swift.min(Double(width - 1), sx))
                let (y0, x0) = (Int(cy.rounded(.down)), Int(cx.rounded(.down)))
                let (y1, x1) = (Swift.min(y0 + 1, height - 1), Swift.min(x0 + 1, width - 1))
                let (wy, wx) = (cy - Double(y0), cx - Double(x0))
                func at(_ h: Int, _ w: Int) -> Double { Double(x.data[offset(x.shape, n, c, h, w)]) }
                let value = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1))
                y.data[i] = Float(value)
            }
        }
    }

    static func gatherElements(data: Tensor, indices: Tensor, axis: Int, y: Tensor) {
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            var picked = Int(indices.data[i])
            if picked < 0 { picked += data.shape[axis] }
            index[axis] = picked
            y.data[i] = data.data[offset(index, in: data.shape)]
        }
    }

    /// Output index i along each axis reads input index i mod dim.
    static func tile(x: Tensor, y: Tensor) {
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape).enumerated().map { $0.element % x.shape[$0.offset] }
            y.data[i] = x.data[offset(index, in: x.shape)]
        }
    }

    static func depthToSpace(x: Tensor, blockSize b: Int, mode: DepthToSpaceMode, y: Tensor) {
        let depth = y.shape[1]
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let (n, c, row, column) = (index[0], index[1], index[2], index[3])
            let (h, blockRow, w, blockColumn) = (row / b, row % b, column / b, column % b)
            let channel = switch mode {
            case .dcr: (blockRow * b + blockColumn) * depth + c
            case .crd: c * b * b + blockRow * b + blockColumn
            }
            y.data[i] = x.data[offset(x.shape, n, channel, h, w)]
        }
    }

    static func spaceToDepth(x: Tensor, blockSize b: Int, y: Tensor) {
        let channels = x.shape[1]
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let (n, outChannel, h, w) = (index[0], index[1], index[2], index[3])
            let (block, c) = (outChannel / channels, outChannel % channels)
            y.data[i] = x.data[offset(x.shape, n, c, h * b + block / b, w * b + block % b)]
        }
    }
}
