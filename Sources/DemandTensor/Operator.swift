/// One graph node in executable form: its kind and validated attributes.
///
/// Operators are built from a manifest with `init(type:attributes:)`, checked
/// against their input shapes once with `outputShape(inputs:)` when a model is
/// opened, and then run many times with `execute(inputs:output:workspace:)`.
/// Semantics follow ONNX for float32 NCHW tensors; each case names its inputs.
/// Integer and bool values (indices, masks) are held as float32.
public enum Operator: Hashable, Sendable {
    /// Inputs X (N, C, H, W), W (M, C/groups, kH, kW), optional B (M).
    case conv(Conv2dParameters)
    /// Inputs X (N, C, H, W), W (C, M/groups, kH, kW), optional B (M).
    case convTranspose(ConvTranspose2dParameters)
    /// Input X (N, C, H, W); padded cells never win.
    case maxPool(Pool2dParameters)
    /// Input X (N, C, H, W).
    case averagePool(Pool2dParameters)
    /// Input X (N, C, spatial...) → (N, C, 1, ...).
    case globalAveragePool
    /// Input X (N, C, spatial...) → (N, C, 1, ...): the largest value of each plane.
    case globalMaxPool
    /// Inputs A, B: same shape, or one broadcasts onto the other's shape
    /// (numpy rules, e.g. (1, C, 1, 1) onto (N, C, H, W)).
    case add(activation: Activation)
    /// Mul, Sub, Div, Pow, Equal, Less, Greater, PRelu, And, Or, Xor (two inputs) and Sum,
    /// Max, Min (one or more), all with numpy broadcasting; see `BinaryFunction`.
    case binary(BinaryFunction)
    /// Inputs cond, X, Y broadcast together; cond ≠ 0 picks X, else Y.
    case `where`
    /// One or more inputs equal in every dimension but `axis`.
    case concat(axis: Int)
    /// Input X (N, C, H, W) → (N, C, H·scaleH, W·scaleW), nearest neighbour.
    case upsampleNearest(scaleH: Int, scaleW: Int)
    /// Input X (N, C, H, W) resized in H and W; see `ResizeParameters`.
    case resize(ResizeParameters)
    /// Input X of any rank, padded or cropped along every axis.
    case pad(PadParameters)
    /// Inputs A, B, optional C; see `GemmParameters`.
    case gemm(GemmParameters)
    /// Inputs A, B with numpy matmul semantics: batched over broadcast leading
    /// dims, a 1-D A is a row vector and a 1-D B a column vector, squeezed out.
    case matMul
    /// Input of rank r → (product of dims before axis, product of the rest); axis in [-r, r].
    case flatten(axis: Int)
    /// Input X → `shape`, where 0 copies X's dim at that position and one -1 is inferred.
    case reshape(shape: [Int])
    /// Input X without the given size-1 axes (every size-1 axis when nil).
    case squeeze(axes: [Int]?)
    /// Input X with size-1 axes inserted at `axes` (positions in the output).
    case unsqueeze(axes: [Int])
    /// Input X with its axes permuted: output axis i is input axis perm[i]
    /// (reversed when nil).
    case transpose(perm: [Int]?)
    /// Input X broadcast with `shape` (both ways, as ONNX Expand).
    case expand(shape: [Int])
    /// Input X sliced; see `SliceParameters`.
    case slice(SliceParameters)
    /// Inputs data, indices (integers held as floats, negative from the end):
    /// picks entries of data along `axis`.
    case gather(axis: Int)
    /// Inputs data, indices of the same rank, each indices dim at most data's
    /// outside `axis` (integers held as floats, negative from the end): the
    /// output has the indices' shape, and element i reads data at i with its
    /// `axis` coordinate replaced by indices[i].
    case gatherElements(axis: Int)
    /// Input X of any rank repeated `repeats[axis]` times along each axis.
    case tile(repeats: [Int])
    /// Input X (N, C, H, W) → (N, C/b², H·b, W·b) for b = `blockSize`: each
    /// pixel's channel blocks spread over a b×b block; see `DepthToSpaceMode`.
    case depthToSpace(blockSize: Int, mode: DepthToSpaceMode)
    /// Input X (N, C, H, W) → (N, C·b², H/b, W/b): DepthToSpace (DCR) undone.
    case spaceToDepth(blockSize: Int)
    /// Input X of any rank: running sums along an axis; see `CumSumParameters`.
    case cumSum(CumSumParameters)
    /// Softmax along one axis (ONNX opset 13), computed max-subtracted.
    case softmax(axis: Int)
    /// LogSoftmax along one axis (ONNX opset 13): x − max − log Σ exp(x − max).
    case logSoftmax(axis: Int)
    /// Inputs X, Scale, optional B: each X[..., axis...] block normalized to
    /// zero mean and unit variance, then scaled and shifted.
    case layerNormalization(axis: Int, epsilon: Float)
    /// Inputs X (N, C, spatial...), scale (C), B (C): each (n, c) plane
    /// normalized to zero mean and unit variance, then scaled and shifted.
    case instanceNormalization(epsilon: Float)
    /// Inputs X (N, C, spatial...), scale, B: the C channels split into
    /// `groupCount` runs of C/groupCount, each (n, group) block normalized to
    /// zero mean and unit variance, then scaled and shifted. Scale and B each
    /// hold C values (one per channel, ONNX opset 21) or `groupCount` values
    /// (one per group, opset 18); when C = groupCount the two agree.
    case groupNormalization(groupCount: Int, epsilon: Float)
    /// Inputs X (N, C, ...), scale, B, mean, var (each (C)): inference form.
    case batchNormalization(epsilon: Float)
    /// Input X (N, C, H, W): local response normalization across channels.
    case lrn(LRNParameters)
    /// Input X summed or averaged over some axes; see `ReduceParameters`.
    case reduce(ReduceParameters)
    /// Input X: the index of the largest or smallest value along an axis, as a
    /// float; see `ArgReduceParameters`.
    case argReduce(ArgReduceParameters)
    /// Input X: the k largest or smallest values along an axis, or their
    /// indices as floats; see `TopKParameters`.
    case topK(TopKParameters)
    /// Input indices (whole numbers held as floats): one-hot lines along a
    /// new axis; see `OneHotParameters`.
    case oneHot(OneHotParameters)
    /// Inputs data, indices (…, k), updates: data with slices replaced or
    /// combined; see `ScatterNDParameters`.
    case scatterND(ScatterNDParameters)
    /// One input, any shape.
    case activation(Activation)
    /// One input, any shape; see `UnaryFunction`.
    case unary(UnaryFunction)
    /// LSTM or GRU: inputs X, W, R and optional B, sequence_lens, initial_h
    /// (and LSTM's initial_c, P); Y with the final states stacked after it,
    /// see `RecurrentParameters`.
    case recurrent(RecurrentParameters)

    /// Whether this node may be run with its last input (a fused residual) in the
    /// output's own bytes: true only for a Conv whose kernel then reads each
    /// element's residual just before writing it (see `Conv2d.residualMayShareOutput`).
    public func mayWriteOverResidual(inputs: [Shape], output: Shape) -> Bool {
        guard case .conv(let parameters) = self, inputs.count == 4 else { return false }
        return Conv2d.residualMayShareOutput(parameters, input: inputs[0], weight: inputs[1], output: output)
    }

    /// Computes the output into `output`, whose shape must be
    /// `outputShape(inputs:)` of the input shapes. Shapes are validated when a
    /// model is opened, so a mismatch here is a programming error and traps.
    /// `output` must not overlap any input, except a fused residual that is the
    /// output's own bytes where `mayWriteOverResidual` allows it; its prior
    /// contents are otherwise ignored.
    /// - Throws: only for failures that depend on the input values, such as a
    ///   Gather index out of range (`.indexOutOfRange`), or a kernel left without
    ///   scratch memory and without a fallback (`.kernelMemory`).
    public func execute(inputs: [Tensor], output: Tensor, workspace: Workspace) throws(OperatorError) {
        checkShapes(inputs: inputs, output: output)
        switch self {
        case .conv(let parameters):
            try Conv2d.run(parameters, input: inputs[0], weight: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil,
                       residual: inputs.count > 3 ? inputs[3] : nil, output: output, workspace: workspace)
        case .convTranspose(let parameters):
            ConvTranspose2d.run(parameters, input: inputs[0], weight: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil,
                                output: output, workspace: workspace)
        case .maxPool(let parameters):
            Pool.maxPool(parameters, input: inputs[0], output: output, workspace: workspace)
        case .averagePool(let parameters):
            Pool.averagePool(parameters, input: inputs[0], output: output, workspace: workspace)
        case .globalAveragePool:
            Pool.globalAverage(input: inputs[0], output: output)
        case .globalMaxPool:
            Pool.globalMax(input: inputs[0], output: output)
        case .add(let activation):
            Elementwise.add(inputs[0], inputs[1], activation: activation, output: output)
        case .binary(let function):
            Binary.run(function, inputs, output: output)
        case .where:
            Binary.select(condition: inputs[0], inputs[1], inputs[2], output: output)
        case .concat(let axis):
            ShapeOps.concat(inputs, axis: normalized(axis, rank: output.shape.rank), output: output)
        case .upsampleNearest(let scaleH, let scaleW):
            ShapeOps.upsampleNearest(inputs[0], scaleH: scaleH, scaleW: scaleW, output: output)
        case .resize(let parameters):
            Resize.run(parameters, input: inputs[0], output: output, workspace: workspace)
        case .pad(let parameters):
            Pad.run(parameters, input: inputs[0], output: output)
        case .gemm(let parameters):
            Gemm.run(parameters, a: inputs[0], b: inputs[1], c: inputs.count > 2 ? inputs[2] : nil, output: output, path: workspace.gemmPath)
        case .matMul:
            MatMul.run(a: inputs[0], b: inputs[1], output: output)
        case .flatten, .reshape, .squeeze, .unsqueeze:
            ShapeOps.copy(inputs[0], to: output)
        case .transpose(let perm):
            StridedCopy.transpose(inputs[0], perm: perm ?? Array((0..<inputs[0].shape.rank).reversed()), output: output)
        case .expand:
            StridedCopy.broadcast(inputs[0], output: output)
        case .slice(let parameters):
            StridedCopy.slice(inputs[0], parameters.resolved(for: inputs[0].shape), output: output)
        case .gather(let axis):
            try Gather.run(data: inputs[0], indices: inputs[1], axis: normalized(axis, rank: inputs[0].shape.rank), output: output)
        case .gatherElements(let axis):
            try GatherElements.run(data: inputs[0], indices: inputs[1], axis: normalized(axis, rank: inputs[0].shape.rank), output: output)
        case .tile(let repeats):
            StridedCopy.tile(inputs[0], repeats: repeats, output: output)
        case .depthToSpace(let blockSize, let mode):
            StridedCopy.depthToSpace(inputs[0], blockSize: blockSize, mode: mode, output: output)
        case .spaceToDepth(let blockSize):
            StridedCopy.spaceToDepth(inputs[0], blockSize: blockSize, output: output)
        case .cumSum(let parameters):
            CumSum.run(parameters, input: inputs[0], output: output)
        case .softmax(let axis):
            Softmax.run(inputs[0], axis: normalized(axis, rank: output.shape.rank), output: output, workspace: workspace)
        case .logSoftmax(let axis):
            Softmax.runLog(inputs[0], axis: normalized(axis, rank: output.shape.rank), output: output, workspace: workspace)
        case .layerNormalization(let axis, let epsilon):
            Normalization.layer(inputs[0], scale: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil,
                                axis: normalized(axis, rank: output.shape.rank), epsilon: epsilon, output: output)
        case .instanceNormalization(let epsilon):
            Normalization.instance(inputs[0], scale: inputs[1], bias: inputs[2], epsilon: epsilon, output: output)
        case .groupNormalization(let groupCount, let epsilon):
            Normalization.group(inputs[0], scale: inputs[1], bias: inputs[2], groupCount: groupCount, epsilon: epsilon, output: output)
        case .batchNormalization(let epsilon):
            Normalization.batch(inputs[0], scale: inputs[1], bias: inputs[2], mean: inputs[3], variance: inputs[4],
                                epsilon: epsilon, output: output)
        case .lrn(let parameters):
            Normalization.localResponse(parameters, input: inputs[0], output: output, workspace: workspace)
        case .reduce(let parameters):
            Reduce.run(parameters, input: inputs[0], output: output)
        case .argReduce(let parameters):
            ArgReduce.run(parameters, input: inputs[0], output: output, workspace: workspace)
        case .topK(let parameters):
            TopK.run(parameters, input: inputs[0], output: output, workspace: workspace)
        case .oneHot(let parameters):
            Scatter.oneHot(parameters, indices: inputs[0], output: output)
        case .scatterND(let parameters):
            try Scatter.scatterND(parameters, data: inputs[0], indices: inputs[1], updates: inputs[2], output: output)
        case .activation(let activation):
            let (input, result) = (inputs[0].data, output.data)
            ParallelRanges.run(count: output.elementCount) { start, end in
                activation.apply(from: input + start, to: result + start, count: end - start, adding: 0)
            }
        case .unary(let function):
            let (input, result) = (inputs[0].data, output.data)
            ParallelRanges.run(count: output.elementCount) { start, end in
                function.apply(from: input + start, to: result + start, count: end - start)
            }
        case .recurrent(let parameters):
            try Recurrent.run(parameters, inputs: inputs, output: output, workspace: workspace)
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
        case .convTranspose(let parameters):
            return ConvTranspose2d.workspaceFloatCount(parameters, input: inputs[0], weight: inputs[1])
        case .maxPool, .averagePool:
            return Pool.workspaceFloatCount(input: inputs[0])
        case .softmax(let axis), .logSoftmax(let axis):
            return Softmax.workspaceFloatCount(output, axis: normalized(axis, rank: output.rank))
        case .resize(let parameters):
            return Resize.workspaceFloatCount(parameters, output: output)
        case .lrn:
            return Normalization.localResponseWorkspaceFloatCount(input: inputs[0])
        case .recurrent(let parameters):
            return Recurrent.workspaceFloatCount(parameters, inputs: inputs)
        case .argReduce(let parameters):
            return inputs[0].dims[(normalized(parameters.axis, rank: inputs[0].rank) + 1)...].reduce(1, *)
        case .topK(let parameters):
            return TopK.workspaceFloatCount(parameters)
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
