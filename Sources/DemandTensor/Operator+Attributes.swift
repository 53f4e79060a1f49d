extension Operator {
    /// The op types `init(type:attributes:)` accepts, as written in a manifest.
    public static let supportedTypes = [
        "Add", "AveragePool", "Clip", "Concat", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "Identity",
        "LeakyRelu", "MaxPool", "Relu", "Sigmoid", "Silu", "SiLU", "Softmax", "Upsample",
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
            try reader.allow(["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"] + fusedNames)
            try reader.requireNoAutoPad()
            let parameters = Conv2dParameters(
                strides: try reader.size("strides") ?? .one,
                pads: try reader.pads(),
                dilations: try reader.size("dilations") ?? .one,
                groups: try reader.int("group", default: 1),
                activation: try reader.fusedActivation(slopeNames: ["alpha", "activation_alpha"]),
                kernelShape: try reader.size("kernel_shape"))
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
        case "GlobalAveragePool":
            try reader.allow([])
            self = .globalAveragePool
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
        case "Softmax":
            try reader.allow(["axis"])
            self = .softmax(axis: try reader.int("axis", default: -1))
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
            throw OperatorError(.unknownOperator,
                "unknown operator type '\(type)'; supported: \(Self.supportedTypes.joined(separator: ", "))")
        }
    }
}

/// Reads typed values out of one node's attributes, with messages that name
/// the op, the attribute and what it should have been.
private struct AttributeReader {
    let opType: String
    let values: [String: AttributeValue]

    func allow(_ names: [String]) throws(OperatorError) {
        for name in values.keys.sorted() where !names.contains(name) {
            let takes = names.isEmpty ? "takes no attributes" : "takes \(names.joined(separator: ", "))"
            throw OperatorError(.unsupportedAttribute, "\(opType) has no attribute '\(name)'; it \(takes)")
        }
    }

    func optionalInt(_ name: String) throws(OperatorError) -> Int? {
        switch values[name] {
        case nil: return nil
        case .int(let value): return value
        case let other?: throw mismatch(name, other, "an integer")
        }
    }

    func int(_ name: String, default defaultValue: Int) throws(OperatorError) -> Int {
        try optionalInt(name) ?? defaultValue
    }

    func bool(_ name: String, default defaultValue: Bool) throws(OperatorError) -> Bool {
        guard let value = try optionalInt(name) else { return defaultValue }
        guard value == 0 || value == 1 else {
            throw OperatorError(.invalidAttribute, "\(name) is \(value); it must be 0 or 1")
        }
        return value == 1
    }

    func optionalFloat(_ name: String) throws(OperatorError) -> Float? {
        switch values[name] {
        case nil: return nil
        case .float(let value) where value.isFinite: return value
        case .int(let value): return Float(value)
        case let other?: throw mismatch(name, other, "a finite number")
        }
    }

    func float(_ name: String, default defaultValue: Float) throws(OperatorError) -> Float {
        try optionalFloat(name) ?? defaultValue
    }

    func string(_ name: String) throws(OperatorError) -> String? {
        switch values[name] {
        case nil: return nil
        case .string(let value): return value
        case let other?: throw mismatch(name, other, "a string")
        }
    }

    func ints(_ name: String, count: Int, meaning: String) throws(OperatorError) -> [Int]? {
        switch values[name] {
        case nil: return nil
        case .ints(let list) where list.count == count: return list
        case let other?: throw mismatch(name, other, "a list of \(count) integers \(meaning); only 2-D NCHW is supported")
        }
    }

    /// A (height, width) pair such as strides or kernel_shape.
    func size(_ name: String) throws(OperatorError) -> Size2d? {
        guard let list = try ints(name, count: 2, meaning: "(height, width)") else { return nil }
        return Size2d(height: list[0], width: list[1])
    }

    func pads() throws(OperatorError) -> Padding2d {
        guard let list = try ints("pads", count: 4, meaning: "[top, left, bottom, right]") else { return .zero }
        return Padding2d(top: list[0], left: list[1], bottom: list[2], right: list[3])
    }

    func requireNoAutoPad() throws(OperatorError) {
        if let mode = try string("auto_pad"), mode != "NOTSET" {
            throw OperatorError(.unsupportedAttribute,
                "auto_pad \"\(mode)\" is not supported; supported: \"NOTSET\" (write the padding out in pads)")
        }
    }

    /// Upsample's `scales`, [1, 1, scaleH, scaleW] with whole-number scales.
    func upsampleScales() throws(OperatorError) -> (Int, Int) {
        let scales: [Float]
        switch values["scales"] {
        case nil: throw OperatorError(.invalidAttribute, "Upsample needs scales, e.g. [1, 1, 2, 2]")
        case .floats(let list): scales = list
        case .ints(let list): scales = list.map(Float.init)
        case let other?: throw mismatch("scales", other, "a list of 4 numbers [1, 1, scaleH, scaleW]")
        }
        let isWhole = scales.allSatisfy { $0 >= 1 && $0 <= 4096 && $0.rounded() == $0 }
        guard scales.count == 4, scales[0] == 1, scales[1] == 1, isWhole else {
            throw OperatorError(.unsupportedAttribute,
                "scales \(scales) is not supported; supported: [1, 1, scaleH, scaleW] with whole-number scales of at least 1 (NCHW nearest)")
        }
        return (Int(scales[2]), Int(scales[3]))
    }

    func clip() throws(OperatorError) -> Activation {
        let low = try optionalFloat("min") ?? -.infinity
        let high = try optionalFloat("max") ?? .infinity
        guard low <= high else {
            throw OperatorError(.invalidAttribute, "clip min \(low) is greater than max \(high)")
        }
        return .clip(min: low, max: high)
    }

    /// The fused `activation` of a Conv, Add or Gemm, with its slope read from
    /// whichever of `slopeNames` is present.
    func fusedActivation(slopeNames: [String]) throws(OperatorError) -> Activation {
        let name = try string("activation") ?? "none"
        let givenSlopes = slopeNames.filter { values[$0] != nil }
        if name != "leaky_relu", let slope = givenSlopes.first {
            throw OperatorError(.invalidAttribute, "\(slope) is the slope of activation \"leaky_relu\", but activation is \"\(name)\"")
        }
        if name != "clip", let bound = ["min", "max"].first(where: { values[$0] != nil }) {
            throw OperatorError(.invalidAttribute, "\(bound) is a bound of activation \"clip\", but activation is \"\(name)\"")
        }
        switch name {
        case "none": return .none
        case "relu": return .relu
        case "sigmoid": return .sigmoid
        case "silu": return .silu
        case "clip": return try clip()
        case "leaky_relu":
            if givenSlopes.count > 1 {
                throw OperatorError(.invalidAttribute, "give the leaky_relu slope once, as \(givenSlopes.joined(separator: " or "))")
            }
            if opType == "Gemm" && values["alpha"] != nil && givenSlopes.isEmpty {
                throw OperatorError(.invalidAttribute,
                    "Gemm with activation \"leaky_relu\" takes its slope as activation_alpha; alpha is Gemm's scale of A·B")
            }
            var slope: Float = 0.01
            if let slopeName = givenSlopes.first { slope = try float(slopeName, default: slope) }
            return .leakyRelu(alpha: slope)
        default:
            throw OperatorError(.unsupportedAttribute,
                "activation \"\(name)\" is not supported; supported: \"relu\", \"leaky_relu\", \"sigmoid\", \"silu\", \"clip\", \"none\"")
        }
    }

    private func mismatch(_ name: String, _ value: AttributeValue, _ expected: String) -> OperatorError {
        OperatorError(.unsupportedAttribute, "\(opType) attribute '\(name)' is \(value); it must be \(expected)")
    }
}
