import DemandTensor
import Testing

/// Attribute and shape errors of the added ops: each names the op, the
/// attribute or input at fault, and what would be accepted.
struct TensorOperatorErrorTests {
    private func message(_ type: String, _ attributes: [String: AttributeValue] = [:]) -> String? {
        OperatorErrorTests.buildError(type, attributes)
    }

    private func shapeMessage(_ type: String, _ attributes: [String: AttributeValue], _ inputs: [Shape]) throws -> String? {
        let op = try Operator(type: type, attributes: attributes)
        do {
            _ = try op.outputShape(inputs: inputs)
            return nil
        } catch {
            return error.message
        }
    }

    /// Checks that `text` exists and contains every fragment.
    private func expect(_ text: String?, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        guard let text else {
            Issue.record("expected an error mentioning \(fragments)", sourceLocation: sourceLocation)
            return
        }
        for fragment in fragments {
            #expect(text.contains(fragment), "'\(text)' should mention '\(fragment)'", sourceLocation: sourceLocation)
        }
    }

    @Test func everyListedTypeParses() throws {
        // Minimal attributes for the types that require some.
        let required: [String: [String: AttributeValue]] = [
            "Cast": ["to": .int(1)], "Concat": ["axis": .int(0)], "Expand": ["shape": .ints([1])], "LRN": ["size": .int(3)],
            "MaxPool": ["kernel_shape": .ints([2, 2])], "AveragePool": ["kernel_shape": .ints([2, 2])], "Pad": ["pads": .ints([0, 0])],
            "Reshape": ["shape": .ints([-1])], "Resize": ["scales": .floats([1, 1, 2, 2])], "Slice": ["starts": .ints([0]), "ends": .ints([1])],
            "Unsqueeze": ["axes": .ints([0])], "Upsample": ["scales": .floats([1, 1, 2, 2])], "Tile": ["repeats": .ints([2])],
            "DepthToSpace": ["blocksize": .int(2)], "SpaceToDepth": ["blocksize": .int(2)], "CumSum": ["axis": .int(0)],
            "GroupNormalization": ["num_groups": .int(2)], "TopK": ["k": .int(1)], "OneHot": ["depth": .int(2), "values": .floats([0, 1])],
            "LSTM": ["hidden_size": .int(4)], "GRU": ["hidden_size": .int(4)],
        ]
        for type in Operator.supportedTypes {
            let op = try Operator(type: type, attributes: required[type] ?? [:])
            #expect(op.typeName.lowercased() == type.lowercased() || (type == "Dropout" || type == "SiLU"), "\(type) became \(op.typeName)")
        }
    }

    @Test func parsesAttributesWithOnnxDefaults() throws {
        #expect(try Operator(type: "Resize", attributes: ["sizes": .ints([1, 3, 8, 8])])
            == .resize(ResizeParameters(mode: .nearest, coordinateMode: .halfPixel, nearestMode: .roundPreferFloor, sizes: [1, 3, 8, 8])))
        #expect(try Operator(type: "HardSigmoid", attributes: [:]) == .unary(.hardSigmoid(alpha: 0.2, beta: 0.5)))
        #expect(try Operator(type: "LayerNormalization", attributes: [:]) == .layerNormalization(axis: -1, epsilon: 1e-5))
        #expect(try Operator(type: "ReduceMean", attributes: [:]) == .reduce(ReduceParameters(kind: .mean, axes: nil, keepDims: true)))
        #expect(try Operator(type: "Gather", attributes: [:]) == .gather(axis: 0))
        #expect(try Operator(type: "Pad", attributes: ["pads": .ints([1, 1])]) == .pad(PadParameters(pads: [1, 1], mode: .constant, value: 0)))
        #expect(try Operator(type: "LRN", attributes: ["size": .int(5)]) == .lrn(LRNParameters(size: 5, alpha: 1e-4, beta: 0.75, bias: 1)))
        #expect(try Operator(type: "ConvTranspose", attributes: ["strides": .ints([2, 2]), "output_padding": .ints([1, 0]), "activation": .string("relu")])
            == .convTranspose(ConvTranspose2dParameters(strides: Size2d(2), outputPadding: Size2d(height: 1, width: 0), activation: .relu)))
        // Exporters' default-valued extras are accepted.
        _ = try Operator(type: "Resize", attributes: ["scales": .floats([1, 1, 2, 2]), "cubic_coeff_a": .float(-0.75),
                                                      "exclude_outside": .int(0), "antialias": .int(0)])
        _ = try Operator(type: "BatchNormalization", attributes: ["epsilon": .float(1e-3), "momentum": .float(0.9)])
    }

    @Test func unsupportedAttributeValuesNameOpAttributeAndChoices() {
        expect(message("Resize", ["mode": .string("cubic"), "scales": .floats([1, 1, 2, 2])]), "Resize", "mode", "\"cubic\"", "\"linear\"")
        expect(message("Resize", ["coordinate_transformation_mode": .string("tf_crop_and_resize"), "scales": .floats([1, 1, 2, 2])]),
               "coordinate_transformation_mode", "tf_crop_and_resize", "align_corners")
        expect(message("Resize", ["antialias": .int(1), "scales": .floats([1, 1, 2, 2])]), "Resize", "antialias", "only 0")
        expect(message("Resize", ["scales": .floats([2, 1, 2, 2])]), "Resize", "scales", "only H and W")
        expect(message("Resize", [:]), "Resize", "sizes", "scales")
        expect(message("Pad", ["pads": .ints([1, 1]), "mode": .string("wrap")]), "Pad", "\"wrap\"", "\"reflect\"", "\"edge\"")
        expect(message("Pad", ["pads": .ints([1, 1, 1])]), "Pad", "pads", "two counts per axis")
        expect(message("Pad", [:]), "Pad", "pads")
        expect(message("Cast", ["to": .int(8)]), "Cast to 8", "bool")
        expect(message("Gelu", ["approximate": .string("fast")]), "Gelu", "approximate", "\"tanh\"")
        expect(message("ConvTranspose", ["output_shape": .ints([8, 8])]), "ConvTranspose", "output_shape", "pads")
        expect(message("ConvTranspose", ["strides": .ints([2, 2]), "output_padding": .ints([2, 0])]), "output_padding", "less than the stride")
        expect(message("ConvTranspose", ["auto_pad": .string("SAME_UPPER")]), "auto_pad", "NOTSET")
        expect(message("Reshape", ["shape": .ints([-1]), "allowzero": .int(1)]), "Reshape", "allowzero", "only 0")
        expect(message("Slice", ["starts": .ints([0]), "ends": .ints([1]), "steps": .ints([0])]), "Slice", "steps", "nonzero")
        expect(message("Slice", ["starts": .ints([0, 0]), "ends": .ints([1])]), "Slice", "same length")
        expect(message("Slice", ["ends": .ints([1])]), "Slice", "starts")
        expect(message("Mul", ["axis": .int(1)]), "Mul", "'axis'", "takes no attributes")
        expect(message("ReduceSum", ["noop_with_empty_axes": .int(1)]), "ReduceSum", "noop_with_empty_axes")
        expect(message("ReduceMax", ["noop_with_empty_axes": .int(1)]), "ReduceMax", "noop_with_empty_axes", "only 0")
        expect(message("ReduceL2", ["select_last_index": .int(1)]), "ReduceL2", "'select_last_index'", "keepdims")
        expect(message("LogSoftmax", ["axes": .ints([1])]), "LogSoftmax", "'axes'", "takes axis")
        expect(message("GlobalMaxPool", ["kernel_shape": .ints([2, 2])]), "GlobalMaxPool", "'kernel_shape'", "takes no attributes")
        expect(message("Mod", ["fmod": .int(2)]), "fmod is 2", "0 or 1")
        expect(message("Mod", ["axis": .int(0)]), "Mod", "'axis'", "takes fmod")
        expect(message("Round", ["mode": .string("up")]), "Round", "'mode'", "takes no attributes")
        expect(message("DepthToSpace", ["blocksize": .int(2), "mode": .string("RDC")]), "DepthToSpace", "mode", "\"RDC\"", "\"DCR\"", "\"CRD\"")
        expect(message("DepthToSpace", [:]), "DepthToSpace", "blocksize")
        expect(message("SpaceToDepth", ["blocksize": .int(2), "mode": .string("DCR")]), "SpaceToDepth", "'mode'", "takes blocksize")
        expect(message("SpaceToDepth", ["blocksize": .int(0)]), "SpaceToDepth", "blocksize is 0")
        expect(message("Tile", [:]), "Tile", "repeats")
        expect(message("CumSum", ["exclusive": .int(1)]), "CumSum", "axis")
        expect(message("CumSum", ["axis": .int(0), "reverse": .int(2)]), "reverse is 2", "0 or 1")
        expect(message("InstanceNormalization", ["momentum": .float(0.9)]), "InstanceNormalization", "'momentum'", "takes epsilon")
        expect(message("GroupNormalization", [:]), "GroupNormalization", "num_groups")
        expect(message("GroupNormalization", ["num_groups": .int(0)]), "num_groups is 0", "at least 1")
        expect(message("GroupNormalization", ["num_groups": .int(2), "stash_type": .int(11)]), "stash_type 11", "float32")
        expect(message("GatherElements", ["batch_dims": .int(1)]), "GatherElements", "'batch_dims'", "takes axis")
        expect(message("ArgMax", ["select_last_index": .int(2)]), "ArgMax select_last_index is 2", "0 or 1")
        expect(message("ArgMin", ["axes": .ints([0])]), "ArgMin", "'axes'", "takes axis, keepdims, select_last_index")
        expect(message("TopK", ["axis": .int(1)]), "TopK", "k")
        expect(message("TopK", ["k": .int(2), "output": .string("both")]), "TopK output \"both\"", "\"values\"", "\"indices\"")
        expect(message("TopK", ["k": .int(2), "largest": .int(2)]), "TopK largest is 2", "0 or 1")
        expect(message("Not", ["axis": .int(0)]), "Not", "'axis'", "takes no attributes")
        expect(message("OneHot", ["values": .floats([0, 1])]), "OneHot", "depth")
        expect(message("OneHot", ["depth": .int(3), "values": .floats([0, 1, 2])]), "OneHot values", "off, then on")
        expect(message("ScatterND", ["reduction": .string("mean")]), "ScatterND reduction \"mean\"", "\"none\"", "\"add\"", "\"mul\"")
        expect(message("BatchNormalization", ["training_mode": .int(1)]), "BatchNormalization", "training_mode")
        expect(message("LRN", [:]), "LRN", "size")
        expect(message("LayerNormalization", ["epsilon": .string("small")]), "LayerNormalization", "epsilon")
        expect(message("Unsqueeze", [:]), "Unsqueeze", "axes")
    }

    @Test func shapeErrorsNameTheInputThatDoesNotFit() throws {
        expect(try shapeMessage("MatMul", [:], [[2, 3], [4, 5]]), "2x3", "4x5", "inner dimensions")
        expect(try shapeMessage("MatMul", [:], [[2, 3, 4], [3, 4, 5]]), "batch", "2x3x4", "3x4x5")
        expect(try shapeMessage("Mul", [:], [[2, 3], [4]]), "Mul", "2x3", "4", "do not broadcast")
        expect(try shapeMessage("Where", [:], [[2], [3], [2]]), "Where", "do not broadcast")
        expect(try shapeMessage("Where", [:], [[2], [2]]), "Where", "condition, X and Y", "got 2 inputs")
        expect(try shapeMessage("PRelu", [:], [[2, 3], [2, 1, 3]]), "slope", "2x1x3", "2x3")
        expect(try shapeMessage("Gather", ["axis": .int(2)], [[3, 4], [2]]), "axis 2", "3x4", "-2..<2")
        expect(try shapeMessage("LayerNormalization", [:], [[2, 8], [4]]), "Scale", "4", "2x8")
        expect(try shapeMessage("LayerNormalization", [:], [[2, 8], [8], [2]]), "B is 2")
        expect(try shapeMessage("BatchNormalization", [:], [[1, 3, 2, 2], [3], [3], [4], [3]]), "mean", "(3)")
        expect(try shapeMessage("Transpose", ["perm": .ints([0, 0, 1])], [[2, 3, 4]]), "perm", "not a permutation", "2x3x4")
        expect(try shapeMessage("Squeeze", ["axes": .ints([1])], [[1, 3]]), "Squeeze", "axis 1", "size 3")
        expect(try shapeMessage("Unsqueeze", ["axes": .ints([3])], [[2, 3]]), "Unsqueeze", "axis 3", "out of range")
        expect(try shapeMessage("Unsqueeze", ["axes": .ints([0, -3])], [[2]]), "twice")
        expect(try shapeMessage("Reshape", ["shape": .ints([5, -1])], [[2, 3, 4]]), "Reshape", "2x3x4", "cannot be inferred")
        expect(try shapeMessage("Reshape", ["shape": .ints([-1, -1])], [[4]]), "more than one -1")
        expect(try shapeMessage("Reshape", ["shape": .ints([2, 0, 0])], [[2, 3]]), "0 at position 2")
        expect(try shapeMessage("Reshape", ["shape": .ints([5])], [[2, 3]]), "2x3", "6 values")
        expect(try shapeMessage("Expand", ["shape": .ints([3, 4])], [[2, 4]]), "Expand", "2x4", "do not broadcast")
        expect(try shapeMessage("Slice", ["starts": .ints([0]), "ends": .ints([1]), "axes": .ints([3])], [[2, 3]]), "Slice axis 3", "2x3")
        expect(try shapeMessage("Slice", ["starts": .ints([2]), "ends": .ints([1])], [[4]]), "Slice", "empty")
        expect(try shapeMessage("Pad", ["pads": .ints([1, 1])], [[2, 2]]), "Pad", "2x2", "needs 4")
        expect(try shapeMessage("Pad", ["pads": .ints([3, 0]), "mode": .string("reflect")], [[3]]), "reflect", "axis size - 1")
        expect(try shapeMessage("Pad", ["pads": .ints([-2, -1])], [[3]]), "crop", "to nothing")
        expect(try shapeMessage("Resize", ["sizes": .ints([1, 4, 8, 8])], [[1, 3, 4, 4]]), "sizes", "1x3x4x4", "only H and W")
        expect(try shapeMessage("Resize", ["scales": .floats([1, 1, 2, 2])], [[3, 4]]), "Resize", "rank 4")
        expect(try shapeMessage("ConvTranspose", [:], [[1, 3, 4, 4], [4, 2, 3, 3]]), "3 channels", "4x2x3x3")
        expect(try shapeMessage("ConvTranspose", [:], [[1, 3, 4, 4], [3, 2, 3, 3], [3]]), "bias", "(2)")
        expect(try shapeMessage("ConvTranspose", ["pads": .ints([2, 2, 2, 2])], [[1, 1, 1, 1], [1, 1, 2, 2]]), "empty")
        expect(try shapeMessage("ReduceMean", ["axes": .ints([2])], [[3, 4]]), "ReduceMean", "axis 2", "3x4")
        expect(try shapeMessage("ReduceSum", ["axes": .ints([0, -2])], [[3, 4]]), "twice")
        expect(try shapeMessage("ReduceProd", ["axes": .ints([-3])], [[3, 4]]), "ReduceProd", "axis -3", "3x4")
        expect(try shapeMessage("GlobalMaxPool", [:], [[3, 4]]), "GlobalMaxPool", "3x4", "(N, C, spatial...)")
        expect(try shapeMessage("LogSoftmax", ["axis": .int(2)], [[3, 4]]), "axis 2", "3x4")
        expect(try shapeMessage("Tile", ["repeats": .ints([2])], [[3, 4]]), "Tile", "repeats", "rank 2 needs 2")
        expect(try shapeMessage("Tile", ["repeats": .ints([2, 0])], [[3, 4]]), "Tile", "at least 1")
        expect(try shapeMessage("DepthToSpace", ["blocksize": .int(2)], [[1, 6, 2, 2]]), "DepthToSpace", "1x6x2x2", "divisible by 4")
        expect(try shapeMessage("SpaceToDepth", ["blocksize": .int(2)], [[1, 3, 5, 4]]), "SpaceToDepth", "1x3x5x4", "divisible by 2")
        expect(try shapeMessage("CumSum", ["axis": .int(3)], [[3, 4]]), "axis 3", "3x4")
        expect(try shapeMessage("ArgMax", ["axis": .int(-3)], [[3, 4]]), "axis -3", "3x4")
        expect(try shapeMessage("TopK", ["k": .int(5)], [[3, 4]]), "TopK k is 5", "3x4", "1...4")
        expect(try shapeMessage("TopK", ["k": .int(2), "axis": .int(2)], [[3, 4]]), "axis 2", "3x4")
        expect(try shapeMessage("Xor", [:], [[3, 4], [2, 1]]), "3x4", "2x1", "broadcast")
        expect(try shapeMessage("OneHot", ["depth": .int(0), "values": .floats([0, 1])], [[3]]), "OneHot depth is 0", "at least 1")
        expect(try shapeMessage("OneHot", ["depth": .int(2), "values": .floats([0, 1]), "axis": .int(3)], [[3, 4]]), "axis 3", "-3..<3")
        expect(try shapeMessage("ScatterND", [:], [[4, 5], [2, 3], [2]]), "ScatterND indices 2x3", "at most data's rank")
        expect(try shapeMessage("ScatterND", [:], [[4, 5], [2, 1], [2, 4]]), "ScatterND updates is 2x4", "must be 2x5")
        expect(try shapeMessage("InstanceNormalization", [:], [[1, 3, 4, 4], [3], [4]]), "B is 4", "(3)")
        expect(try shapeMessage("GroupNormalization", ["num_groups": .int(4)], [[1, 6, 4, 4], [6], [6]]), "6 channels", "num_groups 4")
        expect(try shapeMessage("GroupNormalization", ["num_groups": .int(2)], [[1, 6, 4, 4], [6], [4]]), "B is 4", "(6)", "(2)")
        expect(try shapeMessage("GatherElements", [:], [[3, 4], [3]]), "GatherElements", "same rank")
        expect(try shapeMessage("GatherElements", ["axis": .int(0)], [[3, 4], [2, 5]]), "GatherElements", "longer", "axis 1")
    }
}
