extension Operator {
    /// `outputShape(inputs:)` for the op types of `parseTensorOperator`.
    func tensorOutputShape(inputs: [Shape]) throws(OperatorError) -> Shape {
        switch self {
        case .convTranspose(let parameters):
            try requireInputCount(inputs, 2...3, "X, W and an optional bias B")
            return try convTransposeShape(parameters, inputs)
        case .binary(let function):
            if function == .prelu {
                try requireInputCount(inputs, 2...2, "X and slope")
                let (x, slope) = (inputs[0], inputs[1])
                guard (try? broadcastShape(x, slope)) == x else {
                    throw shapeError("slope \(slope) does not broadcast onto input X \(x); PRelu's output has X's shape")
                }
                return x
            }
            try requireInputCount(inputs, function.isVariadic ? 1...Int.max : 2...2, function.isVariadic ? "one or more tensors" : "A and B")
            return try broadcastShape(inputs)
        case .where:
            try requireInputCount(inputs, 3...3, "condition, X and Y")
            return try broadcastShape(inputs)
        case .resize(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            return try resizeShape(parameters, inputs[0])
        case .pad(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            return try padShape(parameters, inputs[0])
        case .matMul:
            try requireInputCount(inputs, 2...2, "A and B")
            return try matMulShape(inputs[0], inputs[1])
        case .reshape(let shape):
            try requireInputCount(inputs, 1...1, "X")
            return try reshapeShape(shape, inputs[0])
        case .squeeze(let axes):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard let axes else { return Shape(x.dims.filter { $0 != 1 }) }
            let squeezed = try axisSet(axes, rank: x.rank, of: "input X \(x)")
            for axis in squeezed where x[axis] != 1 {
                throw shapeError("Squeeze axis \(axis) of input X \(x) has size \(x[axis]); only size-1 axes can be squeezed")
            }
            return Shape(x.dims.enumerated().filter { !squeezed.contains($0.offset) }.map(\.element))
        case .unsqueeze(let axes):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            let inserted = try axisSet(axes, rank: x.rank + axes.count, of: "the output (rank \(x.rank + axes.count))")
            var rest = x.dims.makeIterator()
            return Shape((0..<(x.rank + axes.count)).map { inserted.contains($0) ? 1 : rest.next()! })
        case .transpose(let perm):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            let order = perm ?? Array((0..<x.rank).reversed())
            guard order.sorted() == Array(0..<x.rank) else {
                throw OperatorError(.invalidAttribute, "Transpose perm \(order) is not a permutation of the \(x.rank) axes of input X \(x)")
            }
            return Shape(order.map { x[$0] })
        case .expand(let shape):
            try requireInputCount(inputs, 1...1, "X")
            guard shape.allSatisfy({ $0 >= 1 }) else { throw OperatorError(.invalidAttribute, "Expand shape \(shape) must hold sizes of at least 1") }
            return try broadcastShape([inputs[0], Shape(shape)])
        case .slice(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            try parameters.check(x)
            let lengths = parameters.resolved(for: x).lengths
            guard !lengths.contains(0) else {
                throw shapeError("Slice of input X \(x) with starts \(parameters.starts), ends \(parameters.ends) is empty (\(lengths.map(String.init).joined(separator: "x"))); empty tensors are not supported")
            }
            return Shape(lengths)
        case .gather(let axis):
            try requireInputCount(inputs, 2...2, "data and indices")
            let (data, indices) = (inputs[0], inputs[1])
            try requireAxis(axis, of: data)
            let split = normalized(axis, rank: data.rank)
            return Shape(Array(data.dims[..<split]) + indices.dims + Array(data.dims[(split + 1)...]))
        case .gatherElements(let axis):
            try requireInputCount(inputs, 2...2, "data and indices")
            let (data, indices) = (inputs[0], inputs[1])
            try requireAxis(axis, of: data)
            guard indices.rank == data.rank else {
                throw shapeError("GatherElements indices \(indices) and data \(data) must have the same rank")
            }
            let split = normalized(axis, rank: data.rank)
            for a in 0..<data.rank where a != split && indices[a] > data[a] {
                throw shapeError("GatherElements indices \(indices) is longer than data \(data) along axis \(a); only axis \(axis) may be")
            }
            return indices
        case .tile(let repeats):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard repeats.count == x.rank else {
                throw OperatorError(.invalidAttribute, "Tile repeats \(repeats) holds \(repeats.count) counts; input X \(x) of rank \(x.rank) needs \(x.rank)")
            }
            var dims: [Int] = []
            for (dim, count) in zip(x.dims, repeats) {
                guard count >= 1 else {
                    throw OperatorError(.invalidAttribute, "Tile repeats \(repeats) has \(count); every count must be at least 1 (empty tensors are not supported)")
                }
                let (product, overflow) = dim.multipliedReportingOverflow(by: count)
                guard !overflow else { throw OperatorError(.invalidAttribute, "Tile repeats \(repeats) of input X \(x) give more elements than an Int can count") }
                dims.append(product)
            }
            return Shape(dims)
        case .depthToSpace(let b, _):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard x.rank == 4, x[1] % (b * b) == 0 else {
                throw shapeError("input X is \(x); DepthToSpace with blocksize \(b) needs NCHW (rank 4) with C divisible by \(b * b)")
            }
            return [x[0], x[1] / (b * b), x[2] * b, x[3] * b]
        case .spaceToDepth(let b):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            guard x.rank == 4, x[2] % b == 0, x[3] % b == 0 else {
                throw shapeError("input X is \(x); SpaceToDepth with blocksize \(b) needs NCHW (rank 4) with H and W divisible by \(b)")
            }
            return [x[0], x[1] * b * b, x[2] / b, x[3] / b]
        case .cumSum(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            try requireAxis(parameters.axis, of: inputs[0])
            return inputs[0]
        case .instanceNormalization:
            try requireInputCount(inputs, 3...3, "X, scale and B")
            let x = inputs[0]
            guard x.rank >= 3 else { throw shapeError("input X is \(x); InstanceNormalization needs (N, C, spatial...)") }
            for (index, name) in [(1, "scale"), (2, "B")] where inputs[index] != [x[1]] {
                throw shapeError("\(name) is \(inputs[index]); it must be (\(x[1])), one value per channel of input X \(x)")
            }
            return x
        case .groupNormalization(let groupCount, _):
            try requireInputCount(inputs, 3...3, "X, scale and B")
            let x = inputs[0]
            guard x.rank >= 3 else { throw shapeError("input X is \(x); GroupNormalization needs (N, C, spatial...)") }
            guard x[1] % groupCount == 0 else {
                throw shapeError("input X \(x) has \(x[1]) channels, which num_groups \(groupCount) does not divide")
            }
            for (index, name) in [(1, "scale"), (2, "B")] where inputs[index] != [x[1]] && inputs[index] != [groupCount] {
                throw shapeError("\(name) is \(inputs[index]); it must be (\(x[1])), one value per channel of input X \(x) (opset 21), "
                    + "or (\(groupCount)), one per group (opset 18)")
            }
            return x
        case .layerNormalization(let axis, _):
            try requireInputCount(inputs, 2...3, "X, Scale and an optional B")
            let x = inputs[0]
            try requireAxis(axis, of: x)
            let normalizedDims = Array(x.dims[normalized(axis, rank: x.rank)...])
            for (index, name) in [(1, "Scale"), (2, "B")] where index < inputs.count {
                let given = inputs[index]
                guard given.elementCount == 1 || given.dims.drop(while: { $0 == 1 }) == normalizedDims.drop(while: { $0 == 1 }) else {
                    throw shapeError("\(name) is \(given); it must match the normalized dims \(Shape(normalizedDims)) of input X \(x) (axis \(axis)) or be a single value")
                }
            }
            return x
        case .batchNormalization:
            try requireInputCount(inputs, 5...5, "X, scale, B, mean and var")
            let x = inputs[0]
            guard x.rank >= 2 else { throw shapeError("input X is \(x); BatchNormalization needs (N, C, ...)") }
            for (index, name) in ["scale", "B", "mean", "var"].enumerated() where inputs[index + 1] != [x[1]] {
                throw shapeError("\(name) is \(inputs[index + 1]); it must be (\(x[1])), one value per channel of input X \(x)")
            }
            return x
        case .lrn:
            try requireInputCount(inputs, 1...1, "X")
            guard inputs[0].rank >= 2 else { throw shapeError("input X is \(inputs[0]); LRN needs (N, C, ...)") }
            return inputs[0]
        case .reduce(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            if let axes = parameters.axes { _ = try axisSet(axes, rank: x.rank, of: "input X \(x)") }
            let reduced = parameters.reducedAxes(rank: x.rank)
            return Shape(x.dims.indices.compactMap { reduced[$0] ? (parameters.keepDims ? 1 : nil) : x[$0] })
        case .oneHot(let parameters):
            return try oneHotShape(parameters, inputs)
        case .scatterND:
            return try scatterNDShape(inputs)
        case .topK(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            try requireAxis(parameters.axis, of: x)
            let length = x[normalized(parameters.axis, rank: x.rank)]
            guard (1...length).contains(parameters.k) else {
                throw shapeError("TopK k is \(parameters.k), but input X \(x) has \(length) values along axis \(parameters.axis); k must be in 1...\(length)")
            }
            return parameters.outputShape(x)
        case .argReduce(let parameters):
            try requireInputCount(inputs, 1...1, "X")
            let x = inputs[0]
            try requireAxis(parameters.axis, of: x)
            let split = normalized(parameters.axis, rank: x.rank)
            return Shape(x.dims.indices.compactMap { $0 == split ? (parameters.keepDims ? 1 : nil) : x[$0] })
        case .unary:
            try requireInputCount(inputs, 1...1, "X")
            return inputs[0]
        default:
            preconditionFailure("\(self) is handled by outputShape(inputs:)")
        }
    }

    /// Axes in [-rank, rank) as a set of indices in [0, rank), refusing repeats.
    private func axisSet(_ axes: [Int], rank: Int, of what: String) throws(OperatorError) -> Set<Int> {
        var result = Set<Int>()
        for axis in axes {
            guard (-rank..<rank).contains(axis) else {
                throw OperatorError(.invalidAttribute, "\(typeName) axis \(axis) is out of range for \(what); it must be in \(-rank)..<\(rank)")
            }
            guard result.insert(normalized(axis, rank: rank)).inserted else {
                throw OperatorError(.invalidAttribute, "\(typeName) axes \(axes) name axis \(axis) twice")
            }
        }
        return result
    }

    /// Numpy broadcasting of several shapes.
    private func broadcastShape(_ shapes: [Shape]) throws(OperatorError) -> Shape {
        var result = shapes[0]
        for shape in shapes.dropFirst() {
            do {
                result = try broadcastShape(result, shape)
            } catch {
                throw shapeError("\(typeName) inputs \(shapes.map(\.description).joined(separator: ", ")) do not broadcast: aligned from the right, each dimension must be equal or 1 across the inputs")
            }
        }
        return result
    }

    private func convTransposeShape(_ parameters: ConvTranspose2dParameters, _ inputs: [Shape]) throws(OperatorError) -> Shape {
        try parameters.validate()
        let x = inputs[0], w = inputs[1], groups = parameters.groups
        guard x.rank == 4 else { throw shapeError("input X is \(x); ConvTranspose needs NCHW (rank 4)") }
        guard w.rank == 4 else { throw shapeError("weight W is \(w); it must be (inChannels, outChannels/group, kH, kW)") }
        guard w[0] == x[1] else {
            throw shapeError("input X \(x) has \(x[1]) channels, but weight W \(w) expects \(w[0]) (W.dims[0])")
        }
        guard x[1] % groups == 0 else { throw shapeError("input X \(x) has \(x[1]) channels, which group \(groups) does not divide") }
        if let kernel = parameters.kernelShape, kernel != Size2d(height: w[2], width: w[3]) {
            throw shapeError("kernel_shape \(kernel) does not match weight W \(w)")
        }
        let outChannels = w[1] * groups
        if inputs.count == 3, inputs[2] != [outChannels] {
            throw shapeError("bias B is \(inputs[2]); it must be (\(outChannels)), one value per output channel (W.dims[1] × group)")
        }
        let g = ConvTranspose2d.Geometry(input: x, weight: w, groups: groups, parameters: parameters)
        guard g.outHeight >= 1, g.outWidth >= 1 else {
            throw shapeError("pads \(parameters.pads) crop the whole output of input X \(x) with weight W \(w); the output would be empty")
        }
        return [x[0], outChannels, g.outHeight, g.outWidth]
    }

    private func resizeShape(_ parameters: ResizeParameters, _ x: Shape) throws(OperatorError) -> Shape {
        guard x.rank == 4 else { throw shapeError("input X is \(x); Resize needs NCHW (rank 4): only H and W are resized") }
        let output: Shape
        if let sizes = parameters.sizes {
            guard sizes[0] == x[0], sizes[1] == x[1] else {
                throw shapeError("Resize sizes \(sizes) change N or C of input X \(x); only H and W can be resized")
            }
            output = Shape(sizes)
        } else {
            let scales = parameters.scales!
            output = [x[0], x[1], Int((Float(x[2]) * scales[2]).rounded(.down)), Int((Float(x[3]) * scales[3]).rounded(.down))]
        }
        guard output[2] >= 1, output[3] >= 1 else { throw shapeError("Resize of input X \(x) gives an empty output \(output)") }
        return output
    }

    private func padShape(_ parameters: PadParameters, _ x: Shape) throws(OperatorError) -> Shape {
        guard parameters.pads.count == 2 * x.rank else {
            throw shapeError("Pad pads \(parameters.pads) holds \(parameters.pads.count) counts; input X \(x) of rank \(x.rank) needs \(2 * x.rank) (all begins, then all ends)")
        }
        var dims: [Int] = []
        for axis in 0..<x.rank {
            let (begin, end) = parameters.padding(axis: axis, rank: x.rank)
            if parameters.mode == .reflect, max(begin, end) > x[axis] - 1 {
                throw shapeError("Pad reflect pads \(begin), \(end) on axis \(axis) of input X \(x) exceed the axis size - 1 (\(x[axis] - 1))")
            }
            dims.append(x[axis] + begin + end)
        }
        guard dims.allSatisfy({ $0 >= 1 }) else { throw shapeError("Pad pads \(parameters.pads) crop input X \(x) to nothing (\(Shape(dims)))") }
        return Shape(dims)
    }

    private func matMulShape(_ a: Shape, _ b: Shape) throws(OperatorError) -> Shape {
        guard a.rank >= 1, b.rank >= 1 else { throw shapeError("MatMul inputs A \(a) and B \(b) must each have rank 1 or more") }
        let kA = a[a.rank - 1], kB = b.rank >= 2 ? b[b.rank - 2] : b[0]
        guard kA == kB else {
            throw shapeError("MatMul A \(a) has \(kA) columns but B \(b) has \(kB) rows; the inner dimensions must match")
        }
        let batchA = Shape(a.rank > 2 ? Array(a.dims[..<(a.rank - 2)]) : [])
        let batchB = Shape(b.rank > 2 ? Array(b.dims[..<(b.rank - 2)]) : [])
        let batch: Shape
        do {
            batch = try broadcastShape(batchA, batchB)
        } catch {
            throw shapeError("MatMul batch dims of A \(a) and B \(b) do not broadcast: aligned from the right, each pair must be equal or one of them 1")
        }
        var dims = batch.dims
        if a.rank >= 2 { dims.append(a[a.rank - 2]) }
        if b.rank >= 2 { dims.append(b[b.rank - 1]) }
        return Shape(dims)
    }

    private func reshapeShape(_ shape: [Int], _ x: Shape) throws(OperatorError) -> Shape {
        var dims: [Int] = []
        var inferred: Int?
        for (position, value) in shape.enumerated() {
            switch value {
            case 0:
                guard position < x.rank else {
                    throw shapeError("Reshape shape \(shape) has 0 at position \(position), but input X \(x) has no dimension there to copy")
                }
                dims.append(x[position])
            case -1:
                guard inferred == nil else { throw OperatorError(.invalidAttribute, "Reshape shape \(shape) has more than one -1") }
                inferred = position
                dims.append(1)
            case 1...:
                dims.append(value)
            default:
                throw OperatorError(.invalidAttribute, "Reshape shape \(shape) has \(value); sizes must be positive, 0 (copy) or -1 (infer)")
            }
        }
        // Checked: the sizes come from the model file, and their product may not fit in an Int.
        var known = 1
        for dim in dims {
            let (product, overflow) = known.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw OperatorError(.invalidAttribute, "Reshape shape \(shape) has more elements than an Int can count") }
            known = product
        }
        if let inferred {
            guard x.elementCount % known == 0 else {
                throw shapeError("Reshape of input X \(x) (\(x.elementCount) values) to \(shape): the -1 cannot be inferred, \(known) does not divide it")
            }
            dims[inferred] = x.elementCount / known
        }
        guard Shape(dims).elementCount == x.elementCount else {
            throw shapeError("Reshape of input X \(x) (\(x.elementCount) values) to \(shape) gives \(Shape(dims)) (\(Shape(dims).elementCount) values)")
        }
        return Shape(dims)
    }
}
