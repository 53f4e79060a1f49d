extension Operator {
    /// The ONNX op type this operator came from, for messages.
    public var typeName: String {
        switch self {
        case .conv: "Conv"
        case .maxPool: "MaxPool"
        case .averagePool: "AveragePool"
        case .globalAveragePool: "GlobalAveragePool"
        case .globalMaxPool: "GlobalMaxPool"
        case .add: "Add"
        case .concat: "Concat"
        case .upsampleNearest: "Upsample"
        case .gemm: "Gemm"
        case .flatten: "Flatten"
        case .softmax: "Softmax"
        case .logSoftmax: "LogSoftmax"
        case .convTranspose: "ConvTranspose"
        case .binary(let function): function.typeName
        case .where: "Where"
        case .resize: "Resize"
        case .pad: "Pad"
        case .matMul: "MatMul"
        case .reshape: "Reshape"
        case .squeeze: "Squeeze"
        case .unsqueeze: "Unsqueeze"
        case .transpose: "Transpose"
        case .expand: "Expand"
        case .slice: "Slice"
        case .gather: "Gather"
        case .gatherElements: "GatherElements"
        case .tile: "Tile"
        case .depthToSpace: "DepthToSpace"
        case .spaceToDepth: "SpaceToDepth"
        case .cumSum: "CumSum"
        case .instanceNormalization: "InstanceNormalization"
        case .groupNormalization: "GroupNormalization"
        case .layerNormalization: "LayerNormalization"
        case .batchNormalization: "BatchNormalization"
        case .lrn: "LRN"
        case .reduce(let parameters): parameters.kind.rawValue
        case .argReduce(let parameters): parameters.kind.rawValue
        case .topK: "TopK"
        case .oneHot: "OneHot"
        case .scatterND: "ScatterND"
        case .unary(let function): function.typeName
        case .recurrent(let parameters): parameters.kind.rawValue
        case .activation(let activation):
            switch activation {
            case .none: "Identity"
            case .relu: "Relu"
            case .leakyRelu: "LeakyRelu"
            case .sigmoid: "Sigmoid"
            case .silu: "Silu"
            case .clip: "Clip"
            }
        }
    }

    /// The shape `execute` writes for inputs of these shapes, or an error
    /// naming the input that does not fit. Run once per node when a model is
    /// opened; `execute` trusts its result.
    public func outputShape(inputs: [Shape]) throws(OperatorError) -> Shape {
        // Empty tensors are not supported: every tensor holds at least one value.
        for (index, shape) in inputs.enumerated() where shape.dims.contains(where: { $0 < 1 }) {
            throw OperatorError(.inputShape, "\(typeName) input \(index) has shape \(shape); every dimension must be at least 1")
        }
        switch self {
        case .conv(let parameters) where parameters.residual:
            try requireInputCount(inputs, 4...4, "X, W, B and the residual R (attribute residual = 1)")
            let shape = try convShape(parameters, Array(inputs.prefix(3)))
            guard inputs[3] == shape else {
                throw shapeError("residual R is \(inputs[3]); it must be the output's shape \(shape)")
            }
            return shape
        case .conv(let parameters):
            try requireInputCount(inputs, 2...3, "X, W and an optional bias B")
            return try convShape(parameters, inputs)
        case .maxPool(let parameters), .averagePool(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            return try poolShape(parameters, inputs[0])
        case .globalAveragePool, .globalMaxPool:
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard x.rank >= 3 else { throw shapeError("input X is \(x); \(typeName) needs (N, C, spatial...)") }
            return Shape(Array(x.dims[0..<2]) + Array(repeating: 1, count: x.rank - 2))
        case .add:
            try requireInputCount(inputs, 2...2, "A and B")
            return try broadcastShape(inputs[0], inputs[1])
        case .concat(let axis):
            try requireInputCount(inputs, 1...Int.max, "one or more tensors")
            return try concatShape(inputs, axis: axis)
        case .upsampleNearest(let scaleH, let scaleW):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard x.rank == 4 else { throw shapeError("input X is \(x); Upsample needs NCHW (rank 4)") }
            guard scaleH >= 1, scaleW >= 1 else { throw OperatorError(.invalidAttribute, "Upsample scales \(scaleH), \(scaleW) must be at least 1") }
            return [x[0], x[1], x[2] * scaleH, x[3] * scaleW]
        case .gemm(let parameters):
            try requireInputCount(inputs, 2...3, "A, B and an optional C")
            return try gemmShape(parameters, inputs)
        case .flatten(let axis):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard (-x.rank...x.rank).contains(axis) else {
                throw OperatorError(.invalidAttribute, "axis \(axis) is out of range for input \(x); it must be in \(-x.rank)...\(x.rank)")
            }
            let split = normalized(axis, rank: x.rank)
            return [x.dims[..<split].reduce(1, *), x.dims[split...].reduce(1, *)]
        case .softmax(let axis), .logSoftmax(let axis):
            try requireInputCount(inputs, 1...1, "X")
            try requireAxis(axis, of: inputs[0])
            return inputs[0]
        case .activation:
            try requireInputCount(inputs, 1...1, "X")
            return inputs[0]
        case .recurrent(let parameters):
            return try recurrentShape(parameters, inputs)
        default:
            return try tensorOutputShape(inputs: inputs)
        }
    }

    func requireInputCount(_ inputs: [Shape], _ range: ClosedRange<Int>, _ names: String) throws(OperatorError) {
        guard range.contains(inputs.count) else {
            throw OperatorError(.inputCount, "\(typeName) takes \(names), but got \(inputs.count) input\(inputs.count == 1 ? "" : "s")")
        }
    }

    func requireAxis(_ axis: Int, of shape: Shape) throws(OperatorError) {
        guard shape.rank >= 1, (-shape.rank..<shape.rank).contains(axis) else {
            throw OperatorError(.invalidAttribute,
                "axis \(axis) is out of range for input \(shape); it must be in \(-shape.rank)..<\(shape.rank)")
        }
    }

    func shapeError(_ message: String) -> OperatorError {
        OperatorError(.inputShape, message)
    }

    private func convShape(_ parameters: Conv2dParameters, _ inputs: [Shape]) throws(OperatorError) -> Shape {
        try parameters.validate()
        let x = inputs[0], w = inputs[1], groups = parameters.groups
        guard x.rank == 4 else { throw shapeError("input X is \(x); Conv needs NCHW (rank 4)") }
        guard w.rank == 4 else { throw shapeError("weight W is \(w); it must be (outChannels, inChannels/group, kH, kW)") }
        guard w[0] % groups == 0 else {
            throw shapeError("weight W \(w) has \(w[0]) output channels, which group \(groups) does not divide")
        }
        guard w[1] * groups == x[1] else {
            throw shapeError("input X \(x) has \(x[1]) channels, but weight W \(w) with group \(groups) expects \(w[1] * groups) (W.dims[1] × group)")
        }
        if let kernel = parameters.kernelShape, kernel != Size2d(height: w[2], width: w[3]) {
            throw shapeError("kernel_shape \(kernel) does not match weight W \(w)")
        }
        if inputs.count == 3, inputs[2] != [w[0]] {
            throw shapeError("bias B is \(inputs[2]); it must be (\(w[0])), one value per output channel of weight W \(w)")
        }
        let (strides, pads, dilations) = (parameters.strides, parameters.pads, parameters.dilations)
        let extentH = dilations.height * (w[2] - 1) + 1, extentW = dilations.width * (w[3] - 1) + 1
        let spanH = x[2] + pads.top + pads.bottom - extentH, spanW = x[3] + pads.left + pads.right - extentW
        guard spanH >= 0, spanW >= 0 else {
            let kernel = dilations == .one ? "\(w[2])x\(w[3])" : "\(w[2])x\(w[3]) dilated to \(extentH)x\(extentW)"
            let padding = pads.isZero ? "" : " padded by \(pads)"
            throw shapeError("input X \(x)\(padding) is smaller than the kernel \(kernel); the output would be empty")
        }
        return [x[0], w[0], spanH / strides.height + 1, spanW / strides.width + 1]
    }

    private func poolShape(_ parameters: Pool2dParameters, _ x: Shape) throws(OperatorError) -> Shape {
        try parameters.validate()
        guard x.rank == 4 else { throw shapeError("input X is \(x); \(typeName) needs NCHW (rank 4)") }
        let (kernel, strides, pads) = (parameters.kernel, parameters.strides, parameters.pads)
        let height = Pool2dParameters.outputLength(input: x[2], kernel: kernel.height, stride: strides.height,
                                                   padBegin: pads.top, padEnd: pads.bottom, ceilMode: parameters.ceilMode)
        let width = Pool2dParameters.outputLength(input: x[3], kernel: kernel.width, stride: strides.width,
                                                  padBegin: pads.left, padEnd: pads.right, ceilMode: parameters.ceilMode)
        guard height >= 1, width >= 1 else {
            let padding = pads.isZero ? "" : " padded by \(pads)"
            throw shapeError("input X \(x)\(padding) is smaller than kernel_shape \(kernel); the output would be empty")
        }
        return [x[0], x[1], height, width]
    }

    /// Numpy broadcasting: dims aligned from the right, each pair equal or one of them 1.
    func broadcastShape(_ a: Shape, _ b: Shape) throws(OperatorError) -> Shape {
        let rank = max(a.rank, b.rank)
        var dims = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let da = axis < rank - a.rank ? 1 : a[axis - (rank - a.rank)]
            let db = axis < rank - b.rank ? 1 : b[axis - (rank - b.rank)]
            guard da == db || da == 1 || db == 1 else {
                throw shapeError("inputs \(a) and \(b) do not broadcast: aligned from the right, each pair of dimensions must be equal or one of them 1")
            }
            dims[axis] = max(da, db)
        }
        return Shape(dims)
    }

    private func concatShape(_ inputs: [Shape], axis: Int) throws(OperatorError) -> Shape {
        let first = inputs[0]
        try requireAxis(axis, of: first)
        let split = normalized(axis, rank: first.rank)
        var dims = first.dims
        for (index, shape) in inputs.enumerated().dropFirst() {
            var other = shape.dims
            guard shape.rank == first.rank else {
                throw shapeError("input \(index) is \(shape) but input 0 is \(first); Concat inputs must have the same rank")
            }
            other[split] = first[split]
            guard other == first.dims else {
                throw shapeError("input \(index) is \(shape) but input 0 is \(first); they may differ only along axis \(axis)")
            }
            dims[split] += shape[split]
        }
        return Shape(dims)
    }

    private func gemmShape(_ parameters: GemmParameters, _ inputs: [Shape]) throws(OperatorError) -> Shape {
        let a = inputs[0], b = inputs[1]
        guard a.rank == 2, b.rank == 2 else { throw shapeError("A is \(a) and B is \(b); Gemm needs two matrices (rank 2); use Flatten first") }
        let (m, k) = parameters.transposeA ? (a[1], a[0]) : (a[0], a[1])
        let (kB, n) = parameters.transposeB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kB else {
            throw shapeError("A \(a) (transA \(parameters.transposeA ? 1 : 0)) gives \(m)x\(k) but B \(b) (transB \(parameters.transposeB ? 1 : 0)) gives \(kB)x\(n); the inner dimensions must match")
        }
        if inputs.count == 3 {
            let c = inputs[2]
            let fits = switch c.rank {
            case 0: true
            case 1: c[0] == 1 || c[0] == n
            case 2: (c[0] == 1 || c[0] == m) && (c[1] == 1 || c[1] == n)
            default: false
            }
            guard fits else { throw shapeError("C is \(c); it must broadcast to the output \(m)x\(n): (), (1), (\(n)), (1, \(n)), (\(m), 1) or (\(m), \(n))") }
        }
        return [m, n]
    }
}
