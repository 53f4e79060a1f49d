import CKernels

/// Pooling kernels over NCHW float32, one (H, W) plane at a time. A window
/// is clipped to the input; `Pool2dParameters.validate` guarantees every
/// clipped window still holds at least one pixel.
enum Pool {
    /// The window of output index `o` along one axis: the input range it
    /// covers, and its extent clipped only to the padded input (the divisor
    /// of an average pool that counts padding).
    @inline(__always)
    private static func window(_ o: Int, stride: Int, kernel: Int, padBegin: Int, padEnd: Int, inputLength: Int)
        -> (range: Range<Int>, paddedCount: Int) {
        let start = o * stride - padBegin
        let end = start + kernel
        let paddedCount = min(end, inputLength + padEnd) - start
        return (max(start, 0)..<min(end, inputLength), paddedCount)
    }

    enum Reduction { case max, mean }

    /// The outputs along one axis whose whole window lies inside the input.
    static func interiorOutputs(_ outputLength: Int, stride: Int, kernel: Int, padBegin: Int, inputLength: Int) -> Range<Int> {
        let lower = min((padBegin + stride - 1) / stride, outputLength)
        let last = inputLength - kernel + padBegin  // the largest window start (before padding) that fits, times stride
        let upper = last < 0 ? 0 : min(last / stride + 1, outputLength)
        return lower..<max(lower, upper)
    }

    /// Eight floats from `p` at `stride` 1 or 2 (stride 2 reads 16, one past the last it uses).
    @inline(__always)
    private static func lanes(_ p: UnsafePointer<Float>, stride: Int) -> SIMD8<Float> {
        if stride == 1 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        return UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self).evenHalf
    }

    /// None: each range of planes keeps its reduced row on its own stack.
    static func workspaceFloatCount(input: Shape) -> Int { 0 }

    /// `path` picks CKernels' AVX2 or NEON loops or the portable ones here (the same bits);
    /// tests pass each, a session the best the CPU allows.
    static func maxPool(_ parameters: Pool2dParameters, input: Tensor, output: Tensor, workspace: Workspace,
                        path: VectorMath.Path = .best) {
        if parameters.kernel == Size2d(2) && parameters.strides == Size2d(2) && parameters.pads.isZero {
            maxPool2x2Stride2(input: input, output: output)
        } else if path != .portable {
            vectorMaxPool(parameters, input: input, output: output, path: path)
        } else {
            separable(.max, parameters, input: input, output: output, workspace: workspace)
        }
    }

    /// The separable max pool in CKernels (pool.c), eight or four lanes at a time, planes dealt to the pool.
    private static func vectorMaxPool(_ parameters: Pool2dParameters, input: Tensor, output: Tensor, path: VectorMath.Path) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        var geometry = DLPoolGeometry(
            in_height: Int32(inHeight), in_width: Int32(inWidth), out_height: Int32(output.shape[2]), out_width: Int32(output.shape[3]),
            kernel_height: Int32(parameters.kernel.height), kernel_width: Int32(parameters.kernel.width),
            stride_height: Int32(parameters.strides.height), stride_width: Int32(parameters.strides.width),
            pad_top: Int32(parameters.pads.top), pad_left: Int32(parameters.pads.left))
        let kernel = path == .avx2 ? dl_avx2_max_pool : dl_neon_max_pool
        let outputPlane = output.shape[2] * output.shape[3]
        ParallelRanges.planes(input.shape[0] * input.shape[1], planeFloats: inHeight * inWidth) { firstPlane, endPlane in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: inWidth + 16) { row in
                (row.baseAddress! + inWidth).initialize(repeating: 0, count: 16)
                kernel(input.data + firstPlane * inHeight * inWidth, output.data + firstPlane * outputPlane, endPlane - firstPlane,
                       &geometry, row.baseAddress!)
            }
        }
    }

    static func averagePool(_ parameters: Pool2dParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        separable(.mean, parameters, input: input, output: output, workspace: workspace)
    }

    /// Max and sum are separable: for each output row, the window's input rows
    /// are first reduced into one row of W floats (a loop over whole rows the
    /// compiler vectorizes), then each output reduces its columns of that row.
    private static func separable(_ reduction: Reduction, _ parameters: Pool2dParameters, input: Tensor, output: Tensor,
                                  workspace: Workspace) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        // Planes split across the pool's threads, each range with its own reduced row.
        let planes = input.shape[0] * input.shape[1]
        let planeFloats = inHeight * inWidth
        ParallelRanges.planes(planes, planeFloats: planeFloats) { firstPlane, endPlane in
            // 16 floats past the row: a stride-2 vector load reads one float beyond the last it uses.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: inWidth + 16) { row in
                (row.baseAddress! + inWidth).initialize(repeating: 0, count: 16)
                separablePlanes(firstPlane..<endPlane, reduction, parameters, input: input, output: output, reducedRow: row.baseAddress!)
            }
        }
    }

    private static func separablePlanes(_ planes: Range<Int>, _ reduction: Reduction, _ parameters: Pool2dParameters,
                                        input: Tensor, output: Tensor, reducedRow: UnsafeMutablePointer<Float>) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let (kernel, strides, pads) = (parameters.kernel, parameters.strides, parameters.pads)
        let countIncludePad = parameters.countIncludePad
        for planeIndex in planes {
            let plane = UnsafePointer(input.data + planeIndex * inHeight * inWidth)
            var y = output.data + planeIndex * outHeight * outWidth
            for oh in 0..<outHeight {
                let rows = window(oh, stride: strides.height, kernel: kernel.height, padBegin: pads.top, padEnd: pads.bottom,
                                  inputLength: inHeight)
                reducedRow.update(from: plane + rows.range.lowerBound * inWidth, count: inWidth)
                for h in rows.range.dropFirst() {
                    let row = plane + h * inWidth
                    // 8 at a time by hand: the compiler cannot prove `row` and `reducedRow` apart, so it would not.
                    var w = 0
                    while w + 8 <= inWidth {
                        let next = UnsafeRawPointer(row + w).loadUnaligned(as: SIMD8<Float>.self)
                        var value = UnsafeRawPointer(reducedRow + w).loadUnaligned(as: SIMD8<Float>.self)
                        switch reduction {
                        case .max: value.replace(with: next, where: next .> value)
                        case .mean: value += next
                        }
                        UnsafeMutableRawPointer(reducedRow + w).storeBytes(of: value, as: SIMD8<Float>.self)
                        w += 8
                    }
                    for w in w..<inWidth {
                        switch reduction {
                        case .max: reducedRow[w] = row[w] > reducedRow[w] ? row[w] : reducedRow[w]
                        case .mean: reducedRow[w] += row[w]
                        }
                    }
                }
                let divisor = Float(rows.range.count)
                // Whole windows inside the row, 8 outputs at a time (strides 1 and 2); the rest one by one.
                let interior = interiorOutputs(outWidth, stride: strides.width, kernel: kernel.width, padBegin: pads.left,
                                               inputLength: inWidth)
                var ow = interior.lowerBound  // outputs interior.lowerBound..<ow are written by the vector loop
                if strides.width <= 2 {
                    let scale = countIncludePad ? Float(rows.paddedCount * kernel.width) : divisor * Float(kernel.width)
                    while ow + 8 <= interior.upperBound {
                        let first = UnsafePointer(reducedRow) + (ow * strides.width - pads.left)
                        var value = lanes(first, stride: strides.width)
                        for w in 1..<kernel.width {
                            let next = lanes(first + w, stride: strides.width)
                            switch reduction {
                            case .max: value.replace(with: next, where: next .> value)
                            case .mean: value += next
                            }
                        }
                        if reduction == .mean { value /= SIMD8(repeating: scale) }
                        UnsafeMutableRawPointer(y + ow).storeBytes(of: value, as: SIMD8<Float>.self)
                        ow += 8
                    }
                }
                // The rest one by one: the left edge, then whatever the vector loop left.
                for ow in 0..<interior.lowerBound {
                    edgeOutput(ow, reduction, parameters, rows: rows, inWidth: inWidth, reducedRow: reducedRow, y: y)
                }
                for ow in ow..<outWidth {
                    edgeOutput(ow, reduction, parameters, rows: rows, inWidth: inWidth, reducedRow: reducedRow, y: y)
                }
                y += outWidth
            }
        }
    }

    /// Output `ow` of one reduced row, its window clipped to the row.
    @inline(__always)
    private static func edgeOutput(_ ow: Int, _ reduction: Reduction, _ parameters: Pool2dParameters,
                                   rows: (range: Range<Int>, paddedCount: Int), inWidth: Int,
                                   reducedRow: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let (strides, kernel, pads) = (parameters.strides, parameters.kernel, parameters.pads)
        let columns = window(ow, stride: strides.width, kernel: kernel.width, padBegin: pads.left, padEnd: pads.right,
                             inputLength: inWidth)
        let first = reducedRow + columns.range.lowerBound
        let count = columns.range.count
        switch reduction {
        case .max:
            var value = first[0]
            for w in 1..<count { value = first[w] > value ? first[w] : value }
            y[ow] = value
        case .mean:
            var value = first[0]
            for w in 1..<count { value += first[w] }
            y[ow] = parameters.countIncludePad ? value / Float(rows.paddedCount * columns.paddedCount)
                : value / (Float(rows.range.count) * Float(count))
        }
    }

    /// The VGG and YOLO-tiny max pool: each output is the max of a 2x2 block.
    /// Whole blocks go through a branch-free loop the compiler vectorizes; in
    /// ceil mode the last row or column of outputs covers a single input row
    /// or column.
    private static func maxPool2x2Stride2(input: Tensor, output: Tensor) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let wholeColumns = inWidth / 2
        for planeIndex in 0..<(input.shape[0] * input.shape[1]) {
            let plane = UnsafePointer(input.data + planeIndex * inHeight * inWidth)
            let y = output.data + planeIndex * outHeight * outWidth
            for oh in 0..<outHeight {
                let top = plane + 2 * oh * inWidth
                let bottom = 2 * oh + 1 < inHeight ? top + inWidth : top
                let row = y + oh * outWidth
                for ow in 0..<wholeColumns {
                    let (a, b, c, d) = (top[2 * ow], top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1])
                    let upper = a > b ? a : b, lower = c > d ? c : d
                    row[ow] = upper > lower ? upper : lower
                }
                if outWidth > wholeColumns {
                    let last = inWidth - 1
                    row[wholeColumns] = top[last] > bottom[last] ? top[last] : bottom[last]
                }
            }
        }
    }

    /// Mean over each (N, C) plane of everything after the channel axis.
    static func globalAverage(input: Tensor, output: Tensor) {
        let planes = input.shape[0] * input.shape[1]
        let planeSize = input.elementCount / planes
        let scale = 1 / Float(planeSize)
        for planeIndex in 0..<planes {
            let plane = input.data + planeIndex * planeSize
            var sum: Float = 0
            for i in 0..<planeSize { sum += plane[i] }
            output.data[planeIndex] = sum * scale
        }
    }

    /// Max over each (N, C) plane of everything after the channel axis.
    static func globalMax(input: Tensor, output: Tensor) {
        let planes = input.shape[0] * input.shape[1]
        let planeSize = input.elementCount / planes
        for planeIndex in 0..<planes {
            let plane = input.data + planeIndex * planeSize
            var value = plane[0]
            for i in 1..<planeSize { value = plane[i] > value ? plane[i] : value }
            output.data[planeIndex] = value
        }
    }
}
