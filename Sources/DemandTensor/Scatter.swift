/// ONNX OneHot with its depth and values fixed at convert time: input
/// indices (whole numbers held as floats, negative from the end) → the
/// indices' shape with `depth` inserted at `axis`, holding `onValue` where
/// the new axis' coordinate equals the index and `offValue` elsewhere. An
/// index outside [-depth, depth) gives a line of `offValue` only, as ONNX
/// specifies.
public struct OneHotParameters: Hashable, Sendable {
    /// The length of the new axis.
    public var depth: Int
    /// Where the new axis goes in the output (negative from the end of the output).
    public var axis: Int
    /// The value written away from the index (ONNX values[0]).
    public var offValue: Float
    /// The value written at the index (ONNX values[1]).
    public var onValue: Float

    /// ONNX's default axis is -1, the new axis last.
    public init(depth: Int, axis: Int = -1, offValue: Float = 0, onValue: Float = 1) {
        self.depth = depth
        self.axis = axis
        self.offValue = offValue
        self.onValue = onValue
    }
}

/// ONNX ScatterND: a copy of data with slices replaced (or combined with
/// `reduction`) by updates. Indices (…, k) hold whole numbers as floats,
/// negative from the end; each row of k numbers names one slice
/// data[i0, …, ik-1, :, …] of data's trailing rank − k axes, and updates
/// holds those slices in indices' order: updates.shape = indices.shape[:-1]
/// + data.shape[k:]. With reduction none and a repeated row, the last
/// write wins.
public struct ScatterNDParameters: Hashable, Sendable {
    /// How an update meets the value it lands on; the raw value is ONNX's.
    public enum Reduction: String, Hashable, Sendable, CaseIterable {
        /// The update replaces the value.
        case none
        /// The update is added to the value.
        case add
        /// The value is multiplied by the update.
        case mul
        /// The larger of the two is kept.
        case max
        /// The smaller of the two is kept.
        case min
    }

    /// How updates combine with the data they land on.
    public var reduction: Reduction

    /// Parameters with the given reduction (ONNX's default: none).
    public init(reduction: Reduction = .none) { self.reduction = reduction }
}

extension Operator {
    func oneHotShape(_ p: OneHotParameters, _ inputs: [Shape]) throws(OperatorError) -> Shape {
        try requireInputCount(inputs, 1...1, "indices")
        let indices = inputs[0]
        guard p.depth >= 1 else { throw OperatorError(.invalidAttribute, "OneHot depth is \(p.depth); it must be at least 1") }
        let rank = indices.rank + 1
        guard (-rank..<rank).contains(p.axis) else {
            throw OperatorError(.invalidAttribute,
                "OneHot axis \(p.axis) is out of range for indices \(indices); the output has rank \(rank), so it must be in \(-rank)..<\(rank)")
        }
        var dims = indices.dims
        dims.insert(p.depth, at: normalized(p.axis, rank: rank))
        return Shape(dims)
    }

    func scatterNDShape(_ inputs: [Shape]) throws(OperatorError) -> Shape {
        try requireInputCount(inputs, 3...3, "data, indices and updates")
        let (data, indices, updates) = (inputs[0], inputs[1], inputs[2])
        guard indices.rank >= 1, let k = indices.dims.last, k <= data.rank else {
            throw shapeError("ScatterND indices \(indices) must end in an axis of at most data's rank (data \(data))")
        }
        let expected = Shape(Array(indices.dims.dropLast()) + Array(data.dims[k...]))
        guard updates == expected else {
            throw shapeError("ScatterND updates is \(updates); with data \(data) and indices \(indices) it must be \(expected) (indices without its last axis, then data's axes after the first \(k))")
        }
        return data
    }
}

enum Scatter {
    static func oneHot(_ p: OneHotParameters, indices: Tensor, output: Tensor) {
        let axis = normalized(p.axis, rank: output.shape.rank)
        let inner = indices.shape.dims[axis...].reduce(1, *)
        let outer = indices.elementCount / inner
        output.data.update(repeating: p.offValue, count: output.elementCount)
        for o in 0..<outer {
            for i in 0..<inner {
                let value = indices.data[o * inner + i]
                guard value.rounded(.towardZero) == value, value >= -Float(p.depth), value < Float(p.depth) else { continue }
                let index = Int(value) < 0 ? Int(value) + p.depth : Int(value)
                output.data[(o * p.depth + index) * inner + i] = p.onValue
            }
        }
    }

    /// Every index row is checked before anything is written.
    static func scatterND(_ p: ScatterNDParameters, data: Tensor, indices: Tensor, updates: Tensor, output: Tensor) throws(OperatorError) {
        let k = indices.shape.dims.last!
        let rows = indices.elementCount / k
        let sliceCount = data.shape.dims[k...].reduce(1, *)
        let strides = StridedLayout.contiguousStrides(data.shape)
        for position in 0..<indices.elementCount {
            let value = indices.data[position]
            let length = data.shape[position % k]
            guard value.rounded(.towardZero) == value, value >= -Float(length), value < Float(length) else {
                throw OperatorError(.indexOutOfRange,
                    "ScatterND index \(value) in row \(position / k) of indices \(indices.shape) is out of range for axis \(position % k) of data \(data.shape); it must be a whole number in \(-length)..<\(length)")
            }
        }
        output.data.update(from: data.data, count: data.elementCount)
        for row in 0..<rows {
            var base = 0
            for a in 0..<k {
                let index = Int(indices.data[row * k + a])
                base += (index < 0 ? index + data.shape[a] : index) * strides[a]
            }
            let target = output.data + base
            let source = UnsafePointer(updates.data + row * sliceCount)
            switch p.reduction {
            case .none: target.update(from: source, count: sliceCount)
            case .add: for i in 0..<sliceCount { target[i] += source[i] }
            case .mul: for i in 0..<sliceCount { target[i] *= source[i] }
            case .max: for i in 0..<sliceCount { target[i] = Swift.max(target[i], source[i]) }
            case .min: for i in 0..<sliceCount { target[i] = Swift.min(target[i], source[i]) }
            }
        }
    }
}
