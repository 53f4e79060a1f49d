/// ONNX Slice with its constant inputs folded into attributes: for each of
/// `axes` (all axes in order when nil; negative from the end) elements
/// starts[i], starts[i] + steps[i], ... up to but excluding ends[i], with
/// ONNX's clamping (so ends of ±9223372036854775807 mean "to the end").
/// A negative step walks backwards. Steps default to 1.
public struct SliceParameters: Hashable, Sendable {
    /// First index along each sliced axis (negative from the end).
    public var starts: [Int]
    /// Index past the last along each sliced axis (negative from the end; clamped).
    public var ends: [Int]
    /// The sliced axes, in the order of `starts`; nil means 0, 1, ...
    public var axes: [Int]?
    /// Step along each sliced axis, nonzero; nil means 1 everywhere.
    public var steps: [Int]?

    /// A slice as ONNX's constant inputs give it.
    public init(starts: [Int], ends: [Int], axes: [Int]? = nil, steps: [Int]? = nil) {
        self.starts = starts
        self.ends = ends
        self.axes = axes
        self.steps = steps
    }

    /// The slice along every axis of one input shape.
    struct Resolved: Equatable {
        var starts: [Int]
        var steps: [Int]
        var lengths: [Int]
    }

    func validate() throws(OperatorError) {
        guard starts.count == ends.count, axes.map({ $0.count == starts.count }) ?? true,
              steps.map({ $0.count == starts.count }) ?? true else {
            throw OperatorError(.invalidAttribute,
                "Slice starts \(starts), ends \(ends), axes \(axes.map { "\($0)" } ?? "absent") and steps \(steps.map { "\($0)" } ?? "absent") must have the same length")
        }
        if let steps, steps.contains(0) {
            throw OperatorError(.invalidAttribute, "Slice steps \(steps) contains 0; every step must be nonzero")
        }
    }

    /// Start, step and length along each axis of `shape`; assumes `check(shape)` passed.
    func resolved(for shape: Shape) -> Resolved {
        var result = Resolved(starts: .init(repeating: 0, count: shape.rank), steps: .init(repeating: 1, count: shape.rank),
                              lengths: shape.dims)
        for i in starts.indices {
            let axis = normalized(axes?[i] ?? i, rank: shape.rank)
            let (dim, step) = (shape[axis], steps?[i] ?? 1)
            var (start, end) = (starts[i], ends[i])
            if start < 0 { start = start &+ dim }
            if end < 0 { end = end &+ dim }
            let length: Int
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), dim)
                end = Swift.min(Swift.max(end, 0), dim)
                length = end > start ? (end - start + step - 1) / step : 0
            } else {
                start = Swift.min(Swift.max(start, 0), dim - 1)
                end = Swift.min(Swift.max(end, -1), dim - 1)
                length = start > end ? (start - end - step - 1) / -step : 0
            }
            result.starts[axis] = start
            result.steps[axis] = step
            result.lengths[axis] = length
        }
        return result
    }

    /// Checks the axes against the input's rank.
    func check(_ shape: Shape) throws(OperatorError) {
        let axisList = axes ?? Array(starts.indices)
        var seen = Set<Int>()
        for axis in axisList {
            guard (-shape.rank..<shape.rank).contains(axis) else {
                throw OperatorError(.invalidAttribute, "Slice axis \(axis) is out of range for input X \(shape); it must be in \(-shape.rank)..<\(shape.rank)")
            }
            guard seen.insert(normalized(axis, rank: shape.rank)).inserted else {
                throw OperatorError(.invalidAttribute, "Slice axes \(axisList) name axis \(axis) twice")
            }
        }
    }
}

/// ONNX Pad: `pads` holds every axis's begin count, then every axis's end
/// count (negative counts crop). New cells hold `value` (constant), mirror
/// the input without repeating the edge (reflect), or repeat the edge (edge).
public struct PadParameters: Hashable, Sendable {
    /// What fills the new cells.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// `value`.
        case constant
        /// The input mirrored about its first and last element.
        case reflect
        /// The input's first or last element repeated.
        case edge
    }

    /// Begin counts for every axis, then end counts for every axis; negative crops.
    public var pads: [Int]
    /// What fills the new cells.
    public var mode: Mode
    /// The fill of constant mode.
    public var value: Float

    /// Padding with ONNX's defaults (constant 0).
    public init(pads: [Int], mode: Mode = .constant, value: Float = 0) {
        self.pads = pads
        self.mode = mode
        self.value = value
    }

    /// Begin and end padding of `axis` for an input of rank `rank`.
    func padding(axis: Int, rank: Int) -> (begin: Int, end: Int) { (pads[axis], pads[axis + rank]) }
}

/// ONNX Resize (opsets 11+) of the H and W axes of an NCHW tensor.
///
/// Each output coordinate x is mapped to an input coordinate by
/// `coordinateMode`, with `scale` = output/input length as `scales` gives it
/// (or as `sizes`/input when only sizes are given):
/// half_pixel (x + ½)/scale − ½; pytorch_half_pixel the same but 0 when the
/// output length is 1; align_corners x·(in − 1)/(out − 1) (0 when out is 1);
/// asymmetric x/scale. Nearest mode rounds that coordinate by `nearestMode`
/// and clamps it into the input; linear mode clamps it into [0, in − 1] and
/// blends the two neighbouring pixels.
public struct ResizeParameters: Hashable, Sendable {
    /// How an output pixel is computed from the input.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// The nearest input pixel, by `nearestMode`.
        case nearest
        /// Bilinear blend of the four surrounding input pixels.
        case linear
    }

    /// ONNX coordinate_transformation_mode: how an output index maps to an input coordinate.
    public enum CoordinateMode: String, Hashable, Sendable, CaseIterable {
        /// (x + ½)/scale − ½
        case halfPixel = "half_pixel"
        /// As half_pixel, but 0 when the output length is 1.
        case pytorchHalfPixel = "pytorch_half_pixel"
        /// x·(in − 1)/(out − 1), 0 when the output length is 1.
        case alignCorners = "align_corners"
        /// x/scale
        case asymmetric
    }

    /// ONNX nearest_mode: how nearest mode rounds an input coordinate.
    public enum NearestMode: String, Hashable, Sendable, CaseIterable {
        /// To the nearest integer, halves down.
        case roundPreferFloor = "round_prefer_floor"
        /// To the nearest integer, halves up.
        case roundPreferCeil = "round_prefer_ceil"
        /// Down.
        case floor
        /// Up.
        case ceil
    }

    /// Nearest or linear.
    public var mode: Mode
    /// How output indices map to input coordinates.
    public var coordinateMode: CoordinateMode
    /// How nearest mode rounds.
    public var nearestMode: NearestMode
    /// The full output shape (rank 4), if given.
    public var sizes: [Int]?
    /// One scale per axis (rank 4), if given: [1, 1, scaleH, scaleW].
    public var scales: [Float]?

    /// Parameters with ONNX's defaults for anything not given; give `sizes`, `scales` or both.
    public init(mode: Mode = .nearest, coordinateMode: CoordinateMode = .halfPixel, nearestMode: NearestMode = .roundPreferFloor,
                sizes: [Int]? = nil, scales: [Float]? = nil) {
        self.mode = mode
        self.coordinateMode = coordinateMode
        self.nearestMode = nearestMode
        self.sizes = sizes
        self.scales = scales
    }

    /// The scale the coordinate transform uses along axis 2 or 3.
    func scale(axis: Int, input: Shape, output: Shape) -> Float {
        scales?[axis] ?? Float(output[axis]) / Float(input[axis])
    }

    /// The input coordinate output index `x` maps to along one axis, before rounding or clamping.
    func sourceCoordinate(_ x: Int, scale: Float, inputLength: Int, outputLength: Int) -> Float {
        let x = Float(x)
        switch coordinateMode {
        case .halfPixel:
            return (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel:
            return outputLength > 1 ? (x + 0.5) / scale - 0.5 : 0
        case .alignCorners:
            return outputLength == 1 ? 0 : x * Float(inputLength - 1) / Float(outputLength - 1)
        case .asymmetric:
            return x / scale
        }
    }

    /// The input index nearest mode picks for coordinate `coordinate`, clamped into the input.
    func nearestIndex(_ coordinate: Float, inputLength: Int) -> Int {
        let rounded: Float
        switch nearestMode {
        case .roundPreferFloor:
            rounded = coordinate - coordinate.rounded(.down) == 0.5 ? coordinate.rounded(.down) : coordinate.rounded()
        case .roundPreferCeil:
            rounded = coordinate - coordinate.rounded(.down) == 0.5 ? coordinate.rounded(.up) : coordinate.rounded()
        case .floor:
            rounded = coordinate.rounded(.down)
        case .ceil:
            rounded = coordinate.rounded(.up)
        }
        return Swift.min(Swift.max(Int(rounded), 0), inputLength - 1)
    }

    /// The two input indices linear mode blends for `coordinate`, and the
    /// weight of the second.
    func linearNeighbours(_ coordinate: Float, inputLength: Int) -> (Int, Int, Float) {
        let clamped = Swift.min(Swift.max(coordinate, 0), Float(inputLength - 1))
        let low = Swift.min(Int(clamped), inputLength - 1)
        let high = Swift.min(low + 1, inputLength - 1)
        return (low, high, clamped - Float(low))
    }
}

/// How ONNX DepthToSpace orders the b² channel blocks it moves into each b×b
/// pixel block of the output (N, C/b², H·b, W·b).
public enum DepthToSpaceMode: String, Hashable, Sendable, CaseIterable {
    /// Depth-column-row (the default): output (c, h·b + i, w·b + j) reads
    /// input channel (i·b + j)·C/b² + c.
    case dcr = "DCR"
    /// Column-row-depth: output (c, h·b + i, w·b + j) reads input channel
    /// c·b² + i·b + j.
    case crd = "CRD"
}
