/// ONNX Resize of H and W over NCHW (see `ResizeParameters` for the
/// coordinate rules). The source column of every output column (and, for
/// linear, its neighbour and weight) is worked out once per call into the
/// workspace; each output row then needs its source row(s) once and one
/// gather loop.
enum Resize {
    static func workspaceFloatCount(_ parameters: ResizeParameters, output: Shape) -> Int {
        parameters.mode == .nearest ? output[3] : 3 * output[3]
    }

    static func run(_ parameters: ResizeParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let scaleH = parameters.scale(axis: 2, input: input.shape, output: output.shape)
        let scaleW = parameters.scale(axis: 3, input: input.shape, output: output.shape)
        let planes = input.shape[0] * input.shape[1]
        let table = workspace.floats(workspaceFloatCount(parameters, output: output.shape))
        // Column indices are stored as Int32 in the workspace's first floats.
        table.withMemoryRebound(to: Int32.self, capacity: 2 * outWidth) { columns in
            switch parameters.mode {
            case .nearest:
                for ow in 0..<outWidth {
                    let x = parameters.sourceCoordinate(ow, scale: scaleW, inputLength: inWidth, outputLength: outWidth)
                    columns[ow] = Int32(parameters.nearestIndex(x, inputLength: inWidth))
                }
                for oh in 0..<outHeight {
                    let y = parameters.sourceCoordinate(oh, scale: scaleH, inputLength: inHeight, outputLength: outHeight)
                    let ih = parameters.nearestIndex(y, inputLength: inHeight)
                    for plane in 0..<planes {
                        let source = input.data + (plane * inHeight + ih) * inWidth
                        let destination = output.data + (plane * outHeight + oh) * outWidth
                        for ow in 0..<outWidth { destination[ow] = source[Int(columns[ow])] }
                    }
                }
            case .linear:
                let weights = table + 2 * outWidth
                for ow in 0..<outWidth {
                    let x = parameters.sourceCoordinate(ow, scale: scaleW, inputLength: inWidth, outputLength: outWidth)
                    let (low, high, weight) = parameters.linearNeighbours(x, inputLength: inWidth)
                    columns[2 * ow] = Int32(low)
                    columns[2 * ow + 1] = Int32(high)
                    weights[ow] = weight
                }
                for oh in 0..<outHeight {
                    let y = parameters.sourceCoordinate(oh, scale: scaleH, inputLength: inHeight, outputLength: outHeight)
                    let (top, bottom, weightY) = parameters.linearNeighbours(y, inputLength: inHeight)
                    for plane in 0..<planes {
                        let upper = input.data + (plane * inHeight + top) * inWidth
                        let lower = input.data + (plane * inHeight + bottom) * inWidth
                        let destination = output.data + (plane * outHeight + oh) * outWidth
                        for ow in 0..<outWidth {
                            let (left, right, weightX) = (Int(columns[2 * ow]), Int(columns[2 * ow + 1]), weights[ow])
                            let a = upper[left] + (upper[right] - upper[left]) * weightX
                            let b = lower[left] + (lower[right] - lower[left]) * weightX
                            destination[ow] = a + (b - a) * weightY
                        }
                    }
                }
            }
        }
    }
}
