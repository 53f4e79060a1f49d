/// One graph node in executable form: its kind and validated attributes.
///
/// Operators are built from a manifest with `init(type:attributes:)`, checked
/// against their input shapes once with `outputShape(inputs:)` when a model is
/// opened, and then run many times with `execute(inputs:output:workspace:)`.
/// Semantics follow ONNX for float32 NCHW tensors; each case names its inputs.
public enum Operator: Hashable, Sendable {
    /// Inputs X (N, C, H, W), W (M, C/groups, kH, kW), optional B (M).
    case conv(Conv2dParameters)
    /// Input X (N, C, H, W); padded cells never win.
    case maxPool(Pool2dParameters)
    /// Input X (N, C, H, W).
    case averagePool(Pool2dParameters)
    /// Input X (N, C, spatial...) → (N, C, 1, ...).
    case globalAveragePool
    /// Inputs A, B: same shape, or one broadcasts onto the other's shape
    /// (numpy rules, e.g. (1, C, 1, 1) onto (N, C, H, W)).
    case add(activation: Activation)
    /// One or more inputs equal in every dimension but `axis`.
    case concat(axis: Int)
    /// Input X (N, C, H, W) → (N, C, H·scaleH, W·scaleW), nearest neighbour.
    case upsampleNearest(scaleH: Int, scaleW: Int)
    /// Inputs A, B, optional C; see `GemmParameters`.
    case gemm(GemmParameters)
    /// Input of rank r → (product of dims before axis, product of the rest); axis in [-r, r].
    case flatten(axis: Int)
    /// Softmax along one axis (ONNX opset 13), computed max-subtracted.
    case softmax(axis: Int)
    /// One input, any shape.
    case activation(Activation)

    /// Computes the output into `output`, whose shape must be
    /// `outputShape(inputs:)` of the input shapes. Shapes are validated when a
    /// model is opened, so a mismatch here is a programming error and traps.
    /// `output` must not overlap any input; its prior contents are ignored.
    public func execute(inputs: [Tensor], output: Tensor, workspace: Workspace) {
        checkShapes(inputs: inputs, output: output)
        switch self {
        case .conv(let parameters):
            Conv2d.run(parameters, input: inputs[0], weight: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil,
                       output: output, workspace: workspace)
        case .maxPool(let parameters):
            Pool.maxPool(parameters, input: inputs[0], output: output, workspace: workspace)
        case .averagePool(let parameters):
            Pool.averagePool(parameters, input: inputs[0], output: output, workspace: workspace)
        case .globalAveragePool:
            Pool.globalAverage(input: inputs[0], output: output)
        case .add(let activation):
            Elementwise.add(inputs[0], inputs[1], activation: activation, output: output)
        case .concat(let axis):
            ShapeOps.concat(inputs, axis: normalized(axis, rank: output.shape.rank), output: output)
        case .upsampleNearest(let scaleH, let scaleW):
            ShapeOps.upsampleNearest(inputs[0], scaleH: scaleH, scaleW: scaleW, output: output)
        case .gemm(let parameters):
            Gemm.run(parameters, a: inputs[0], b: inputs[1], c: inputs.count > 2 ? inputs[2] : nil, output: output)
        case .flatten:
            ShapeOps.copy(inputs[0], to: output)
        case .softmax(let axis):
            Softmax.run(inputs[0], axis: normalized(axis, rank: output.shape.rank), output: output, workspace: workspace)
        case .activation(let activation):
            activation.apply(from: inputs[0].data, to: output.data, count: output.elementCount, adding: 0)
        }
    }

    /// Floats of workspace one `execute` on these input shapes needs; a session
    /// can reserve the maximum over its model once, so that running allocates
    /// nothing. The shapes must have passed `outputShape(inputs:)`.
    public func workspaceFloatCount(inputs: [Shape]) -> Int {
        guard let output = try? outputShape(inputs: inputs) else { return 0 }
        switch self {
        case .conv(let parameters):
            return Conv2d.workspaceFloatCount(parameters, input: inputs[0], weight: inputs[1], output: output)
        case .maxPool, .averagePool:
            return Pool.workspaceFloatCount(input: inputs[0])
        case .softmax(let axis):
            return Softmax.workspaceFloatCount(output, axis: normalized(axis, rank: output.rank))
        default:
            return 0
        }
    }

    private func checkShapes(inputs: [Tensor], output: Tensor) {
        precondition((try? outputShape(inputs: inputs.map(\.shape))) == output.shape,
                     "\(self): inputs \(inputs.map(\.shape)) do not give output \(output.shape)")
    }
}

/// `axis` in [-rank, rank) as an index in [0, rank).
func normalized(_ axis: Int, rank: Int) -> Int { axis < 0 ? axis + rank : axis }
