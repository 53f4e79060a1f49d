import DemandTensor
import Testing

/// Building operators from attributes, and the errors a model author sees.
struct OperatorErrorTests {
    private func message(_ type: String, _ attributes: [String: AttributeValue] = [:]) -> String? {
        Self.buildError(type, attributes)
    }

    /// The message of the error building this operator throws, or nil if it builds.
    static func buildError(_ type: String, _ attributes: [String: AttributeValue] = [:]) -> String? {
        do {
            _ = try Operator(type: type, attributes: attributes)
            return nil
        } catch {
            return error.message
        }
    }

    private func shapeMessage(_ op: Operator, _ inputs: [Shape]) -> String? {
        do {
            _ = try op.outputShape(inputs: inputs)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func parsesConvAttributes() throws {
        let op = try Operator(type: "Conv", attributes: [
            "kernel_shape": .ints([3, 3]), "strides": .ints([2, 1]), "pads": .ints([1, 2, 3, 4]),
            "dilations": .ints([1, 2]), "group": .int(2), "auto_pad": .string("NOTSET"),
            "activation": .string("leaky_relu"), "alpha": .float(0.1),
        ])
        let expected = Conv2dParameters(strides: Size2d(height: 2, width: 1), pads: Padding2d(top: 1, left: 2, bottom: 3, right: 4),
                                         dilations: Size2d(height: 1, width: 2), groups: 2,
                                         activation: .leakyRelu(alpha: 0.1), kernelShape: Size2d(3))
        #expect(op == .conv(expected))
    }

    @Test func parsesTheOtherOperators() throws {
        #expect(try Operator(type: "MaxPool", attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
            == .maxPool(Pool2dParameters(kernel: Size2d(2), strides: Size2d(2))))
        #expect(try Operator(type: "AveragePool", attributes: ["kernel_shape": .ints([3, 3]), "count_include_pad": .int(1), "ceil_mode": .int(1)])
            == .averagePool(Pool2dParameters(kernel: Size2d(3), countIncludePad: true, ceilMode: true)))
        #expect(try Operator(type: "Upsample", attributes: ["scales": .floats([1, 1, 2, 2])]) == .upsampleNearest(scaleH: 2, scaleW: 2))
        #expect(try Operator(type: "Gemm", attributes: ["transB": .int(1), "alpha": .float(2)])
            == .gemm(GemmParameters(alpha: 2, transposeB: true)))
        #expect(try Operator(type: "Flatten", attributes: [:]) == .flatten(axis: 1))
        #expect(try Operator(type: "Softmax", attributes: [:]) == .softmax(axis: -1))
        #expect(try Operator(type: "LeakyRelu", attributes: [:]) == .activation(.leakyRelu(alpha: 0.01)))
        #expect(try Operator(type: "SiLU", attributes: [:]) == .activation(.silu))
        #expect(try Operator(type: "Clip", attributes: ["min": .float(0), "max": .float(6)]) == .activation(.clip(min: 0, max: 6)))
        #expect(try Operator(type: "Add", attributes: ["activation": .string("clip"), "max": .float(6)])
            == .add(activation: .clip(min: -.infinity, max: 6)))
    }

    @Test func unknownOperatorNamesItselfAndTheSupportedTypes() {
        let text = message("RNN")
        #expect(text?.contains("'RNN'") == true)
        #expect(text?.contains("Conv") == true && text?.contains("Upsample") == true)
    }

    @Test func unsupportedAutoPadNamesTheAttributeAndTheRemedy() {
        let text = message("Conv", ["auto_pad": .string("SAME_UPPER")])
        #expect(text?.contains("auto_pad") == true)
        #expect(text?.contains("SAME_UPPER") == true)
        #expect(text?.contains("NOTSET") == true)
    }

    @Test func unknownAttributeIsAnErrorListingTheKnownOnes() {
        let text = message("MaxPool", ["kernel_shape": .ints([2, 2]), "count_include_pad": .int(1)])
        #expect(text?.contains("'count_include_pad'") == true)
        #expect(text?.contains("storage_order") == true)
    }

    @Test func badAttributeValues() {
        #expect(message("Upsample", ["scales": .floats([1, 1, 1.5, 1.5])])?.contains("whole-number") == true)
        #expect(message("Upsample", ["scales": .floats([1, 1, 2, 2]), "mode": .string("linear")])?.contains("nearest") == true)
        #expect(message("Conv", ["activation": .string("gelu")])?.contains("\"gelu\"") == true)
        #expect(message("Conv", ["strides": .ints([1, 1, 1])])?.contains("strides") == true)
        #expect(message("Conv", ["strides": .ints([0, 1])])?.contains("at least 1") == true)
        #expect(message("Conv", ["group": .float(2)])?.contains("integer") == true)
        #expect(message("Conv", ["activation": .string("relu"), "alpha": .float(0.1)])?.contains("leaky_relu") == true)
        #expect(message("MaxPool", ["kernel_shape": .ints([2, 2]), "pads": .ints([2, 2, 2, 2])])?.contains("smaller than kernel_shape") == true)
        #expect(message("MaxPool", ["kernel_shape": .ints([2, 2]), "dilations": .ints([2, 2])])?.contains("dilations") == true)
        #expect(message("MaxPool", [:])?.contains("kernel_shape") == true)
        #expect(message("Concat", [:])?.contains("axis") == true)
        #expect(message("Clip", ["min": .float(1), "max": .float(0)])?.contains("greater than max") == true)
        #expect(message("Gemm", ["activation": .string("leaky_relu"), "alpha": .float(0.1)])?.contains("activation_alpha") == true)
    }

    @Test func convChannelMismatchNamesBothShapes() {
        let text = shapeMessage(.conv(Conv2dParameters()), [[1, 3, 8, 8], [16, 4, 3, 3]])
        #expect(text?.contains("1x3x8x8") == true)
        #expect(text?.contains("16x4x3x3") == true)
        #expect(text?.contains("channels") == true)
    }

    @Test func shapeErrors() {
        let conv = Operator.conv(Conv2dParameters(groups: 3))
        #expect(shapeMessage(conv, [[1, 6, 8, 8], [4, 2, 3, 3]])?.contains("group 3") == true)
        #expect(shapeMessage(.conv(Conv2dParameters()), [[1, 3, 8, 8], [4, 3, 3, 3], [5]])?.contains("bias") == true)
        #expect(shapeMessage(.conv(Conv2dParameters()), [[1, 3, 2, 2], [4, 3, 3, 3]])?.contains("empty") == true)
        #expect(shapeMessage(.conv(Conv2dParameters()), [[1, 3, 8, 8]])?.contains("got 1 input") == true)
        #expect(shapeMessage(.add(activation: .none), [[1, 3, 4, 4], [1, 2, 1, 1]])?.contains("do not broadcast") == true)
        #expect(shapeMessage(.concat(axis: 1), [[1, 3, 4, 4], [1, 2, 4, 5]])?.contains("axis 1") == true)
        #expect(shapeMessage(.gemm(GemmParameters()), [[2, 3], [4, 5]])?.contains("inner dimensions") == true)
        #expect(shapeMessage(.gemm(GemmParameters()), [[2, 3], [3, 5], [2, 4]])?.contains("broadcast") == true)
        #expect(shapeMessage(.softmax(axis: 2), [[2, 3]])?.contains("out of range") == true)
        #expect(shapeMessage(.flatten(axis: 3), [[2, 3]])?.contains("out of range") == true)
    }

    @Test func poolCeilModeDropsAWindowStartingInThePadding() throws {
        // ONNX's maxpool_2d_ceil_output_size_reduce_by_one: 2x2 input, kernel 1, stride 2.
        let op = Operator.maxPool(Pool2dParameters(kernel: Size2d(1), strides: Size2d(2), ceilMode: true))
        #expect(try op.outputShape(inputs: [[1, 1, 2, 2]]) == [1, 1, 1, 1])
        let floor = Operator.maxPool(Pool2dParameters(kernel: Size2d(3), strides: Size2d(2)))
        #expect(try floor.outputShape(inputs: [[1, 1, 8, 8]]) == [1, 1, 3, 3])
    }
}
