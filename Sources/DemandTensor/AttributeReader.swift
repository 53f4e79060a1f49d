/// Reads typed values out of one node's attributes, with messages that name
/// the op, the attribute and what it should have been.
struct AttributeReader {
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
            throw OperatorError(.invalidAttribute, "\(opType) \(name) is \(value); it must be 0 or 1")
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

    /// A list of integers of any length.
    func intList(_ name: String) throws(OperatorError) -> [Int]? {
        switch values[name] {
        case nil: return nil
        case .ints(let list): return list
        case let other?: throw mismatch(name, other, "a list of integers")
        }
    }

    /// A list of finite numbers of any length (integers accepted).
    func floatList(_ name: String) throws(OperatorError) -> [Float]? {
        switch values[name] {
        case nil: return nil
        case .floats(let list) where list.allSatisfy(\.isFinite): return list
        case .ints(let list): return list.map(Float.init)
        case let other?: throw mismatch(name, other, "a list of finite numbers")
        }
    }

    /// A string attribute that must be one of `supported` (the first is the default).
    func choice(_ name: String, _ supported: [String]) throws(OperatorError) -> String {
        let value = try string(name) ?? supported[0]
        guard supported.contains(value) else {
            throw OperatorError(.unsupportedAttribute,
                "\(opType) \(name) \"\(value)\" is not supported; supported: \(supported.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return value
    }

    /// An integer attribute accepted only at `only` (its ONNX default), with why.
    func requireInt(_ name: String, is only: Int, _ reason: String) throws(OperatorError) {
        if let value = try optionalInt(name), value != only {
            throw OperatorError(.unsupportedAttribute, "\(opType) \(name) \(value) is not supported; only \(only) (\(reason))")
        }
    }

    /// A required attribute that is absent.
    func missing(_ name: String, _ example: String) -> OperatorError {
        OperatorError(.invalidAttribute, "\(opType) needs attribute '\(name)', e.g. \(example)")
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

    func mismatch(_ name: String, _ value: AttributeValue, _ expected: String) -> OperatorError {
        OperatorError(.unsupportedAttribute, "\(opType) attribute '\(name)' is \(value); it must be \(expected)")
    }
}
