extension Operator {
    /// The op types `init(type:attributes:)` accepts, as written in a manifest.
    public static let supportedTypes = [
        "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Conv",
        "ConvTranspose", "CumSum", "DepthToSpace", "Div", "Dropout", "Equal", "Erf", "Exp", "Expand", "Flatten",
        "Floor", "Gather", "GatherElements", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "GroupNormalization", "GRU",
        "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less",
        "Log", "LogSoftmax", "LRN", "LSTM", "MatMul", "Max", "MaxPool", "Min", "Mod", "Mul", "Neg", "Not", "OneHot", "Or", "Pad", "Pow", "PRelu",
        "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu", "Reshape",
        "Resize", "Round", "ScatterND", "Sigmoid", "SiLU", "Silu", "Slice", "Softmax", "SpaceToDepth", "Sqrt", "Squeeze", "Sub",
        "Sum", "Tanh", "Tile", "TopK", "Transpose", "Unsqueeze", "Upsample", "Where", "Xor",
    ]

    /// Builds an operator from an ONNX op type and its attributes.
    ///
    /// Attribute names and meanings are ONNX's, 2-D only (`pads` is
    /// [top, left, bottom, right]), with `auto_pad` limited to NOTSET and with
    /// Clip's min and max as attributes rather than inputs. Conv, Add and Gemm
    /// also take a fused activation: `activation` = "relu", "leaky_relu",
    /// "sigmoid", "silu", "clip" or "none", with the slope in `alpha` (Conv,
    /// Add) or `activation_alpha` (any of the three; Gemm's own `alpha` is its
    /// scale of A·B) and the bounds in `min` and `max`. Attributes an op does
    /// not take are errors, not ignored.
    public init(type: String, attributes: [String: AttributeValue]) throws(OperatorError) {
        let reader = AttributeReader(opType: type, values: attributes)
        let fusedNames = ["activation", "alpha", "activation_alpha", "min", "max"]
        switch type {
        case "Conv":
            try reader.allow(["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", "residual"] + fusedNames)
            try reader.requireNoAutoPad()
            let parameters = Conv2dParameters(
                strides: try reader.size("strides") ?? .one,
                pads: try reader.pads(),
                dilations: try reader.size("dilations") ?? .one,
                groups: try reader.int("group", default: 1),
                activation: try reader.fusedActivation(slopeNames: ["alpha", "activation_alpha"]),
                kernelShape: try reader.size("kernel_shape"),
                residual: try reader.bool("residual", default: false))
            try parameters.validate()
            self = .conv(parameters)
        case "MaxPool", "AveragePool":
            let isMax = type == "MaxPool"
            var names = ["kernel_shape", "strides", "pads", "ceil_mode", "dilations", "auto_pad"]
            names.append(isMax ? "storage_order" : "count_include_pad")
            try reader.allow(names)
            try reader.requireNoAutoPad()
            guard let kernel = try reader.size("kernel_shape") else {
                throw OperatorError(.invalidAttribute, "\(type) needs kernel_shape, e.g. [2, 2]")
            }
            if let dilations = try reader.size("dilations"), dilations != .one {
                throw OperatorError(.unsupportedAttribute, "dilations \(dilations) is not supported for \(type); only [1, 1]")
            }
            if isMax, try reader.int("storage_order", default: 0) != 0 {
                throw OperatorError(.unsupportedAttribute, "storage_order must be 0 (row major); it only affects the indices output, which is not supported")
            }
            let parameters = Pool2dParameters(
                kernel: kernel,
                strides: try reader.size("strides") ?? .one,
                pads: try reader.pads(),
                countIncludePad: isMax ? false : try reader.bool("count_include_pad", default: false),
                ceilMode: try reader.bool("ceil_mode", default: false))
            try parameters.validate()
            self = isMax ? .maxPool(parameters) : .averagePool(parameters)
        case "GlobalAveragePool", "GlobalMaxPool":
            try reader.allow([])
            self = type == "GlobalMaxPool" ? .globalMaxPool : .globalAveragePool
        case "Add":
            try reader.allow(fusedNames)
            self = .add(activation: try reader.fusedActivation(slopeNames: ["alpha", "activation_alpha"]))
        case "Concat":
            try reader.allow(["axis"])
            guard let axis = try reader.optionalInt("axis") else {
                throw OperatorError(.invalidAttribute, "Concat needs axis, e.g. 1 for channels")
            }
            self = .concat(axis: axis)
        case "Upsample":
            try reader.allow(["scales", "mode"])
            let mode = try reader.string("mode") ?? "nearest"
            guard mode == "nearest" else {
                throw OperatorError(.unsupportedAttribute, "mode \"\(mode)\" is not supported for Upsample; supported: \"nearest\"")
            }
            let (scaleH, scaleW) = try reader.upsampleScales()
            self = .upsampleNearest(scaleH: scaleH, scaleW: scaleW)
        case "Gemm":
            try reader.allow(["alpha", "beta", "transA", "transB"] + fusedNames.filter { $0 != "alpha" })
            self = .gemm(GemmParameters(
                alpha: try reader.float("alpha", default: 1),
                beta: try reader.float("beta", default: 1),
                transposeA: try reader.bool("transA", default: false),
                transposeB: try reader.bool("transB", default: false),
                activation: try reader.fusedActivation(slopeNames: ["activation_alpha"])))
        case "Flatten":
            try reader.allow(["axis"])
            self = .flatten(axis: try reader.int("axis", default: 1))
        case "Softmax", "LogSoftmax":
            try reader.allow(["axis"])
            let axis = try reader.int("axis", default: -1)
            self = type == "Softmax" ? .softmax(axis: axis) : .logSoftmax(axis: axis)
        case "Relu", "Sigmoid", "Silu", "SiLU", "Identity":
            try reader.allow([])
            let activations: [String: Activation] = ["Relu": .relu, "Sigmoid": .sigmoid, "Silu": .silu, "SiLU": .silu, "Identity": .none]
            self = .activation(activations[type]!)
        case "LeakyRelu":
            try reader.allow(["alpha"])
            self = .activation(.leakyRelu(alpha: try reader.float("alpha", default: 0.01)))
        case "Clip":
            try reader.allow(["min", "max"])
            self = .activation(try reader.clip())
        default:
            guard let op = try Self.parseTensorOperator(type, reader) else {
                throw OperatorError(.unknownOperator,
                    "unknown operator type '\(type)'; supported: \(Self.supportedTypes.joined(separator: ", "))")
            }
            self = op
        }
    }
}
