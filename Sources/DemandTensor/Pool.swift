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

    static func maxPool(_ parameters: Pool2dParameters, input: Tensor, output: Tensor) {
        if parameters.kernel == Size2d(2) && parameters.strides == Size2d(2) && parameters.pads.isZero {
            maxPool2x2Stride2(input: input, output: output)
            return
        }
        forEachWindow(parameters, input: input, output: output) { plane, inWidth, rows, columns, _ in
            var best = -Float.infinity
            for h in rows {
                let row = plane + h * inWidth
                for w in columns where row[w] > best { best = row[w] }
            }
            return best
        }
    }

    static func averagePool(_ parameters: Pool2dParameters, input: Tensor, output: Tensor) {
        let countIncludePad = parameters.countIncludePad
        forEachWindow(parameters, input: input, output: output) { plane, inWidth, rows, columns, paddedCount in
            var sum: Float = 0
            for h in rows {
                let row = plane + h * inWidth
                for w in columns { sum += row[w] }
            }
            return sum / Float(countIncludePad ? paddedCount : rows.count * columns.count)
        }
    }

    /// Calls `reduce(plane, inWidth, rows, columns, paddedCount)` for every
    /// output pixel and stores what it returns.
    @inline(__always)
    private static func forEachWindow(_ parameters: Pool2dParameters, input: Tensor, output: Tensor,
                                      _ reduce: (UnsafePointer<Float>, Int, Range<Int>, Range<Int>, Int) -> Float) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let planes = input.shape[0] * input.shape[1]
        let (kernel, strides, pads) = (parameters.kernel, parameters.strides, parameters.pads)
        for planeIndex in 0..<planes {
            let plane = UnsafePointer(input.data + planeIndex * inHeight * inWidth)
            var y = output.data + planeIndex * outHeight * outWidth
            for oh in 0..<outHeight {
                let rows = window(oh, stride: strides.height, kernel: kernel.height, padBegin: pads.top, padEnd: pads.bottom,
                                  inputLength: inHeight)
                for ow in 0..<outWidth {
                    let columns = window(ow, stride: strides.width, kernel: kernel.width, padBegin: pads.left, padEnd: pads.right,
                                         inputLength: inWidth)
                    y.pointee = reduce(plane, inWidth, rows.range, columns.range, rows.paddedCount * columns.paddedCount)
                    y += 1
                }
            }
        }
    }

    /// The VGG and YOLO-tiny max pool: each output is the max of a 2x2 block.
    /// Whole blocks are reduced 16 outputs at a time; in ceil mode the last
    /// row or column of outputs may cover a single input row or column.
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
                var ow = 0
                while ow + 16 <= wholeColumns {
                    let upper = UnsafeRawPointer(top + 2 * ow).loadUnaligned(as: SIMD32<Float>.self)
                    let lower = UnsafeRawPointer(bottom + 2 * ow).loadUnaligned(as: SIMD32<Float>.self)
                    let vertical = pointwiseMax(upper, lower)
                    UnsafeMutableRawPointer(row + ow).storeBytes(of: pointwiseMax(vertical.evenHalf, vertical.oddHalf), as: SIMD16<Float>.self)
                    ow += 16
                }
                while ow < outWidth {
                    let left = 2 * ow, right = Swift.min(2 * ow + 1, inWidth - 1)
                    row[ow] = Swift.max(Swift.max(top[left], top[right]), Swift.max(bottom[left], bottom[right]))
                    ow += 1
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
}
