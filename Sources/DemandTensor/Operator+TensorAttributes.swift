extension Operator {
    /// Parses the op types added for transformer, detection and OCR models
    /// (everything but the original CNN set); nil for a type it does not know.
    ///
    /// ONNX's constant inputs arrive as attributes of the same names (Reshape
    /// shape, Slice starts/ends/axes/steps, Pad pads, Resize sizes/scales,
    /// Reduce axes, Squeeze/Unsqueeze axes, Expand shape, Tile repeats,
    /// CumSum axis). A few attributes
    /// exporters write at their defaults are accepted only at those defaults
    /// (Resize exclude_outside, antialias, keep_aspect_ratio_policy; Reshape
    /// allowzero; Reduce noop_with_empty_axes; BatchNormalization
    /// training_mode), and a few are accepted and ignored because they do not
    /// change inference (Resize cubic_coeff_a and extrapolation_value,
    /// BatchNormalization momentum, Dropout ratio and seed, LayerNormalization
    /// stash_type).
    static func parseTensorOperator(_ type: String, _ reader: AttributeReader) throws(OperatorError) -> Operator? {
        switch type {
        case "ConvTranspose":
            if reader.values["output_shape"] != nil {
                throw OperatorError(.unsupportedAttribute,
                    "ConvTranspose output_shape is not supported; write the padding it implies in pads (and output_padding)")
            }
            try reader.allow(["kernel_shape", "strides", "pads", "output_padding", "dilations", "group", "auto_pad",
                              "activation", "alpha", "activation_alpha", "min", "max"])
            try reader.requireNoAutoPad()
            let parameters = ConvTranspose2dParameters(
                strides: try reader.size("strides") ?? .one,
                pads: try reader.pads(),
                outputPadding: try reader.size("output_padding") ?? Size2d(0),
                dilations: try reader.size("dilations") ?? .one,
                groups: try reader.int("group", default: 1),
                activation: try reader.fusedActivation(slopeNames: ["alpha", "activation_alpha"]),
                kernelShape: try reader.size("kernel_shape"))
            try parameters.validate()
            return .convTranspose(parameters)
        case "Resize":
            return .resize(try resizeParameters(reader))
        case "Pad":
            try reader.allow(["pads", "mode", "value"])
            guard let pads = try reader.intList("pads") else { throw reader.missing("pads", "[0, 0, 1, 1, 0, 0, 1, 1] (all begins, then all ends)") }
            guard !pads.isEmpty, pads.count % 2 == 0 else {
                throw OperatorError(.invalidAttribute, "Pad pads \(pads) must hold two counts per axis: all begins, then all ends")
            }
            let mode = PadParameters.Mode(rawValue: try reader.choice("mode", PadParameters.Mode.allCases.map(\.rawValue)))!
            return .pad(PadParameters(pads: pads, mode: mode, value: try reader.float("value", default: 0)))
        case "BatchNormalization":
            try reader.allow(["epsilon", "momentum", "training_mode"])
            try reader.requireInt("training_mode", is: 0, "inference form")
            _ = try reader.float("momentum", default: 0.9)
            return .batchNormalization(epsilon: try epsilon(reader))
        case "LayerNormalization":
            try reader.allow(["axis", "epsilon", "stash_type"])
            _ = try reader.int("stash_type", default: 1)
            return .layerNormalization(axis: try reader.int("axis", default: -1), epsilon: try epsilon(reader))
        case "LRN":
            try reader.allow(["size", "alpha", "beta", "bias"])
            guard let size = try reader.optionalInt("size") else { throw reader.missing("size", "5") }
            guard size >= 1 else { throw OperatorError(.invalidAttribute, "LRN size is \(size); it must be at least 1") }
            return .lrn(LRNParameters(size: size, alpha: try reader.float("alpha", default: 1e-4),
                                      beta: try reader.float("beta", default: 0.75), bias: try reader.float("bias", default: 1)))
        case _ where ReduceParameters.Kind(rawValue: type) != nil:
            try reader.allow(["axes", "keepdims", "noop_with_empty_axes"])
            try reader.requireInt("noop_with_empty_axes", is: 0, "empty axes reduce every axis")
            return .reduce(ReduceParameters(kind: ReduceParameters.Kind(rawValue: type)!, axes: try reader.intList("axes"),
                                            keepDims: try reader.bool("keepdims", default: true)))
        case _ where ArgReduceParameters.Kind(rawValue: type) != nil:
            try reader.allow(["axis", "keepdims", "select_last_index"])
            return .argReduce(ArgReduceParameters(kind: ArgReduceParameters.Kind(rawValue: type)!, axis: try reader.int("axis", default: 0),
                                                  keepDims: try reader.bool("keepdims", default: true),
                                                  selectLastIndex: try reader.bool("select_last_index", default: false)))
        case "TopK":
            try reader.allow(["k", "axis", "largest", "sorted", "output"])
            guard let k = try reader.optionalInt("k") else { throw reader.missing("k", "5") }
            // Unsorted output may come in any order, so the sorted one is a valid answer.
            _ = try reader.bool("sorted", default: true)
            let output = TopKParameters.Output(rawValue: try reader.choice("output", TopKParameters.Output.allCases.map(\.rawValue)))!
            return .topK(TopKParameters(k: k, axis: try reader.int("axis", default: -1),
                                        largest: try reader.bool("largest", default: true), output: output))
        case "OneHot":
            try reader.allow(["depth", "values", "axis"])
            guard let depth = try reader.optionalInt("depth") else { throw reader.missing("depth", "10") }
            guard let values = try reader.floatList("values") else { throw reader.missing("values", "[0, 1] (off, on)") }
            guard values.count == 2 else {
                throw OperatorError(.invalidAttribute, "OneHot values \(values) must be two values: off, then on")
            }
            return .oneHot(OneHotParameters(depth: depth, axis: try reader.int("axis", default: -1), offValue: values[0], onValue: values[1]))
        case "ScatterND":
            try reader.allow(["reduction"])
            let reduction = try reader.choice("reduction", ScatterNDParameters.Reduction.allCases.map(\.rawValue))
            return .scatterND(ScatterNDParameters(reduction: .init(rawValue: reduction)!))
        case "MatMul":
            try reader.allow([])
            return .matMul
        case "Where":
            try reader.allow([])
            return .where
        case "Transpose":
            try reader.allow(["perm"])
            return .transpose(perm: try reader.intList("perm"))
        case "Reshape":
            try reader.allow(["shape", "allowzero"])
            try reader.requireInt("allowzero", is: 0, "0 in shape copies the input's dimension")
            guard let shape = try reader.intList("shape") else { throw reader.missing("shape", "[0, -1]") }
            return .reshape(shape: shape)
        case "Squeeze":
            try reader.allow(["axes"])
            // An empty list is read as absent: squeeze every size-1 axis.
            let axes = try reader.intList("axes")
            return .squeeze(axes: axes?.isEmpty == true ? nil : axes)
        case "Unsqueeze":
            try reader.allow(["axes"])
            guard let axes = try reader.intList("axes") else { throw reader.missing("axes", "[0]") }
            return .unsqueeze(axes: axes)
        case "Expand":
            try reader.allow(["shape"])
            guard let shape = try reader.intList("shape") else { throw reader.missing("shape", "[1, 3, 4, 4]") }
            return .expand(shape: shape)
        case "Slice":
            try reader.allow(["starts", "ends", "axes", "steps"])
            guard let starts = try reader.intList("starts") else { throw reader.missing("starts", "[0]") }
            guard let ends = try reader.intList("ends") else { throw reader.missing("ends", "[9223372036854775807]") }
            let parameters = SliceParameters(starts: starts, ends: ends, axes: try reader.intList("axes"), steps: try reader.intList("steps"))
            try parameters.validate()
            return .slice(parameters)
        case "Gather", "GatherElements":
            try reader.allow(["axis"])
            let axis = try reader.int("axis", default: 0)
            return type == "Gather" ? .gather(axis: axis) : .gatherElements(axis: axis)
        case "Tile":
            try reader.allow(["repeats"])
            guard let repeats = try reader.intList("repeats") else { throw reader.missing("repeats", "[1, 1, 2, 2]") }
            return .tile(repeats: repeats)
        case "DepthToSpace", "SpaceToDepth":
            try reader.allow(type == "DepthToSpace" ? ["blocksize", "mode"] : ["blocksize"])
            guard let blockSize = try reader.optionalInt("blocksize") else { throw reader.missing("blocksize", "2") }
            guard blockSize >= 1 else { throw OperatorError(.invalidAttribute, "\(type) blocksize is \(blockSize); it must be at least 1") }
            guard type == "DepthToSpace" else { return .spaceToDepth(blockSize: blockSize) }
            let mode = DepthToSpaceMode(rawValue: try reader.choice("mode", DepthToSpaceMode.allCases.map(\.rawValue)))!
            return .depthToSpace(blockSize: blockSize, mode: mode)
        case "CumSum":
            try reader.allow(["axis", "exclusive", "reverse"])
            guard let axis = try reader.optionalInt("axis") else { throw reader.missing("axis", "1") }
            return .cumSum(CumSumParameters(axis: axis, exclusive: try reader.bool("exclusive", default: false),
                                            reverse: try reader.bool("reverse", default: false)))
        case "LSTM", "GRU":
            return .recurrent(try RecurrentParameters(kind: type == "LSTM" ? .lstm : .gru, reader))
        case "InstanceNormalization":
            try reader.allow(["epsilon"])
            return .instanceNormalization(epsilon: try epsilon(reader))
        case "GroupNormalization":
            try reader.allow(["num_groups", "epsilon", "stash_type"])
            guard let groupCount = try reader.optionalInt("num_groups") else { throw reader.missing("num_groups", "32") }
            guard groupCount >= 1 else {
                throw OperatorError(.invalidAttribute, "GroupNormalization num_groups is \(groupCount); it must be at least 1")
            }
            // Statistics are computed in float32, which is stash_type 1 (ONNX's default).
            try reader.requireInt("stash_type", is: 1, "mean and variance are computed in float32")
            return .groupNormalization(groupCount: groupCount, epsilon: try epsilon(reader))
        default:
            if let function = try binaryFunction(type, reader) { return .binary(function) }
            if let function = try unaryFunction(type, reader) { return .unary(function) }
            return nil
        }
    }

    private static func epsilon(_ reader: AttributeReader) throws(OperatorError) -> Float {
        let epsilon = try reader.float("epsilon", default: 1e-5)
        guard epsilon >= 0 else { throw OperatorError(.invalidAttribute, "\(reader.opType) epsilon is \(epsilon); it must be 0 or more") }
        return epsilon
    }

    private static func binaryFunction(_ type: String, _ reader: AttributeReader) throws(OperatorError) -> BinaryFunction? {
        let functions: [String: BinaryFunction] = [
            "Sum": .add, "Sub": .sub, "Mul": .mul, "Div": .div, "Pow": .pow, "Equal": .equal, "Less": .less,
            "Greater": .greater, "Max": .max, "Min": .min, "PRelu": .prelu, "And": .and, "Or": .or, "Xor": .xor,
        ]
        if type == "Mod" {
            try reader.allow(["fmod"])
            return try reader.bool("fmod", default: false) ? .fmod : .mod
        }
        guard let function = functions[type] else { return nil }
        try reader.allow([])
        return function
    }

    private static func unaryFunction(_ type: String, _ reader: AttributeReader) throws(OperatorError) -> UnaryFunction? {
        let plain: [String: UnaryFunction] = [
            "HardSwish": .hardSwish, "Tanh": .tanh, "Erf": .erf, "Sqrt": .sqrt, "Reciprocal": .reciprocal, "Exp": .exp,
            "Neg": .neg, "Abs": .abs, "Log": .log, "Floor": .floor, "Ceil": .ceil, "Round": .round, "Not": .not,
        ]
        if let function = plain[type] {
            try reader.allow([])
            return function
        }
        switch type {
        case "HardSigmoid":
            try reader.allow(["alpha", "beta"])
            return .hardSigmoid(alpha: try reader.float("alpha", default: 0.2), beta: try reader.float("beta", default: 0.5))
        case "Gelu":
            try reader.allow(["approximate"])
            return .gelu(tanhApproximation: try reader.choice("approximate", ["none", "tanh"]) == "tanh")
        case "Dropout":
            try reader.allow(["ratio", "seed"])
            _ = try reader.float("ratio", default: 0.5)
            _ = try reader.int("seed", default: 0)
            return .dropout
        case "Cast":
            try reader.allow(["to"])
            guard let to = try reader.optionalInt("to") else { throw reader.missing("to", "1 (float)") }
            guard let target = UnaryFunction.CastTarget.byTensorProtoType[to] else {
                throw OperatorError(.unsupportedAttribute,
                    "Cast to \(to) is not supported; supported TensorProto types: 1 (float), 10 (float16), 11 (double), 2-7, 12, 13 (integers), 9 (bool)")
            }
            return .cast(target)
        default:
            return nil
        }
    }

    private static func resizeParameters(_ reader: AttributeReader) throws(OperatorError) -> ResizeParameters {
        try reader.allow(["mode", "coordinate_transformation_mode", "nearest_mode", "sizes", "scales", "cubic_coeff_a",
                          "exclude_outside", "extrapolation_value", "antialias", "keep_aspect_ratio_policy"])
        let mode = try reader.choice("mode", ResizeParameters.Mode.allCases.map(\.rawValue))
        let coordinateMode = try reader.choice("coordinate_transformation_mode", ResizeParameters.CoordinateMode.allCases.map(\.rawValue))
        let nearestMode = try reader.choice("nearest_mode", ResizeParameters.NearestMode.allCases.map(\.rawValue))
        try reader.requireInt("exclude_outside", is: 0, "it only affects cubic mode")
        try reader.requireInt("antialias", is: 0, "antialiased resizing is not implemented")
        _ = try reader.choice("keep_aspect_ratio_policy", ["stretch"])
        _ = try reader.float("cubic_coeff_a", default: -0.75)
        _ = try reader.float("extrapolation_value", default: 0)
        let sizes = try reader.intList("sizes")
        let scales = try reader.floatList("scales")
        guard sizes != nil || scales != nil else { throw reader.missing("sizes' or 'scales", "sizes [1, 3, 64, 64] or scales [1, 1, 2, 2]") }
        if let sizes, sizes.count != 4 || sizes.contains(where: { $0 < 1 }) {
            throw OperatorError(.unsupportedAttribute, "Resize sizes \(sizes) is not supported; supported: 4 positive sizes (N, C, H, W)")
        }
        if let scales, scales.count != 4 || scales[0] != 1 || scales[1] != 1 || scales.contains(where: { $0 <= 0 }) {
            throw OperatorError(.unsupportedAttribute,
                "Resize scales \(scales) is not supported; supported: [1, 1, scaleH, scaleW] with positive scales (only H and W are resized)")
        }
        return ResizeParameters(mode: .init(rawValue: mode)!, coordinateMode: .init(rawValue: coordinateMode)!,
                                nearestMode: .init(rawValue: nearestMode)!, sizes: sizes, scales: scales)
    }
}
