/// ONNX Resize of H and W over NCHW (see `ResizeParameters` for the
/// coordinate rules). What each output column reads (nearest: one source
/// column; linear: two and a weight) and, for nearest, each output row's
/// source row, are worked out once per call into the workspace.
///
/// Nearest: each output row is one gather loop, or a copy of the row above
/// when both read the same source row (every row but one when upscaling).
/// Linear: source rows are first interpolated along W into two row buffers
/// kept while consecutive output rows still need them (so each source row is
/// interpolated about once per plane), then each output row blends the two.
enum Resize {
    static func workspaceFloatCount(_ parameters: ResizeParameters, output: Shape) -> Int {
        parameters.mode == .nearest ? output[3] + output[2] : 5 * output[3]
    }

    static func run(_ parameters: ResizeParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        let table = workspace.floats(workspaceFloatCount(parameters, output: output.shape))
        // Indices are stored as Int32 in the workspace's first floats.
        let indexCount = parameters.mode == .nearest ? output.shape[3] + output.shape[2] : 2 * output.shape[3]
        table.withMemoryRebound(to: Int32.self, capacity: indexCount) { indices in
            switch parameters.mode {
            case .nearest: nearest(parameters, input: input, output: output, indices: indices)
            case .linear: linear(parameters, input: input, output: output, indices: indices, floats: table + indexCount)
            }
        }
    }

    /// `indices` holds outW column then outH row indices.
    private static func nearest(_ parameters: ResizeParameters, input: Tensor, output: Tensor, indices: UnsafeMutablePointer<Int32>) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let scaleH = parameters.scale(axis: 2, input: input.shape, output: output.shape)
        let scaleW = parameters.scale(axis: 3, input: input.shape, output: output.shape)
        let (columns, rows) = (indices, indices + outWidth)
        for ow in 0..<outWidth {
            let x = parameters.sourceCoordinate(ow, scale: scaleW, inputLength: inWidth, outputLength: outWidth)
            columns[ow] = Int32(parameters.nearestIndex(x, inputLength: inWidth))
        }
        for oh in 0..<outHeight {
            let y = parameters.sourceCoordinate(oh, scale: scaleH, inputLength: inHeight, outputLength: outHeight)
            rows[oh] = Int32(parameters.nearestIndex(y, inputLength: inHeight))
        }
        for plane in 0..<(input.shape[0] * input.shape[1]) {
            for oh in 0..<outHeight {
                let destination = output.data + (plane * outHeight + oh) * outWidth
                if oh > 0 && rows[oh] == rows[oh - 1] {
                    destination.update(from: destination - outWidth, count: outWidth)
                    continue
                }
                let source = input.data + (plane * inHeight + Int(rows[oh])) * inWidth
                for ow in 0..<outWidth { destination[ow] = source[Int(columns[ow])] }
            }
        }
    }

    /// `indices` holds the (left, right) source columns of each output
    /// column; `floats` their weights (outW), then two row buffers (outW each).
    private static func linear(_ parameters: ResizeParameters, input: Tensor, output: Tensor, indices: UnsafeMutablePointer<Int32>,
                               floats: UnsafeMutablePointer<Float>) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let scaleH = parameters.scale(axis: 2, input: input.shape, output: output.shape)
        let scaleW = parameters.scale(axis: 3, input: input.shape, output: output.shape)
        let weights = floats
        let buffers = (floats + outWidth, floats + 2 * outWidth)
        for ow in 0..<outWidth {
            let x = parameters.sourceCoordinate(ow, scale: scaleW, inputLength: inWidth, outputLength: outWidth)
            let (left, right, weight) = parameters.linearNeighbours(x, inputLength: inWidth)
            indices[2 * ow] = Int32(left)
            indices[2 * ow + 1] = Int32(right)
            weights[ow] = weight
        }
        /// Interpolates source row `row` of `plane` along W into `buffer`.
        func interpolate(_ plane: UnsafePointer<Float>, row: Int, into buffer: UnsafeMutablePointer<Float>) {
            let source = plane + row * inWidth
            for ow in 0..<outWidth {
                let (left, right) = (source[Int(indices[2 * ow])], source[Int(indices[2 * ow + 1])])
                buffer[ow] = left + (right - left) * weights[ow]
            }
        }
        for planeIndex in 0..<(input.shape[0] * input.shape[1]) {
            let plane = UnsafePointer(input.data + planeIndex * inHeight * inWidth)
            // The source row each buffer holds, -1 for none.
            var held = (-1, -1)
            for oh in 0..<outHeight {
                let y = parameters.sourceCoordinate(oh, scale: scaleH, inputLength: inHeight, outputLength: outHeight)
                let (top, bottom, weightY) = parameters.linearNeighbours(y, inputLength: inHeight)
                if held.0 != top && held.1 != top {
                    if held.0 == bottom { interpolate(plane, row: top, into: buffers.1); held.1 = top }
                    else { interpolate(plane, row: top, into: buffers.0); held.0 = top }
                }
                if held.0 != bottom && held.1 != bottom {
                    if held.0 == top { interpolate(plane, row: bottom, into: buffers.1); held.1 = bottom }
                    else { interpolate(plane, row: bottom, into: buffers.0); held.0 = bottom }
                }
                let upper = held.0 == top ? buffers.0 : buffers.1
                let lower = held.0 == bottom ? buffers.0 : buffers.1
                let destination = output.data + (planeIndex * outHeight + oh) * outWidth
                for ow in 0..<outWidth { destination[ow] = upper[ow] + (lower[ow] - upper[ow]) * weightY }
            }
        }
    }
}
