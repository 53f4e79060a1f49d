import DemandTensor
import Testing

/// ONNX edge cases of the added ops, worked out by hand; each runs through
/// both `Reference` and the fast kernel.
struct HandComputedTensorTests {
    /// Past 2^63 - 1: ONNX's "to the end" for Slice ends.
    private let huge = 9_223_372_036_854_775_807

    private func check(_ type: String, _ attributes: [String: AttributeValue], _ inputs: [Tensor], expected: [Float], shape: Shape,
                       tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let op = try Operator(type: type, attributes: attributes)
        let outputShape = try op.outputShape(inputs: inputs.map(\.shape))
        #expect(outputShape == shape, sourceLocation: sourceLocation)
        guard outputShape == shape else { return }
        let reference = Tensor(zeros: outputShape)
        Reference.execute(op, inputs: inputs, output: reference)
        let fast = Tensor(shape: outputShape, values: .init(repeating: .nan, count: outputShape.elementCount))
        try op.execute(inputs: inputs, output: fast, workspace: Workspace())
        for (name, result) in [("reference", reference), ("fast", fast)] {
            let worst = zip(result.array, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(!(worst > tolerance), "\(type) \(name) gave \(result.array), expected \(expected)", sourceLocation: sourceLocation)
        }
    }

    private func row(_ values: [Float]) -> Tensor { Tensor(shape: [1, 1, 1, values.count], values: values) }

    @Test func sliceNegativeStepsAndHugeEnds() throws {
        let x = Tensor(shape: [6], values: [0, 1, 2, 3, 4, 5])
        try check("Slice", ["starts": .ints([-2]), "ends": .ints([-huge]), "steps": .ints([-2])], [x], expected: [4, 2, 0], shape: [3])
        try check("Slice", ["starts": .ints([1]), "ends": .ints([huge]), "steps": .ints([2])], [x], expected: [1, 3, 5], shape: [3])
        try check("Slice", ["starts": .ints([-huge]), "ends": .ints([2])], [x], expected: [0, 1], shape: [2])
        let matrix = Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])
        try check("Slice", ["starts": .ints([-1]), "ends": .ints([-huge]), "axes": .ints([-1]), "steps": .ints([-1])], [matrix],
                  expected: [2, 1, 0, 5, 4, 3], shape: [2, 3])
        try check("Slice", ["starts": .ints([huge]), "ends": .ints([0]), "axes": .ints([0]), "steps": .ints([-1])], [matrix],
                  expected: [3, 4, 5], shape: [1, 3])
    }

    @Test func reshapeZeroCopiesAndMinusOneInfers() throws {
        let x = Tensor(shape: [2, 3, 2], values: (0..<12).map(Float.init))
        try check("Reshape", ["shape": .ints([0, -1])], [x], expected: (0..<12).map(Float.init), shape: [2, 6])
        try check("Reshape", ["shape": .ints([-1])], [x], expected: (0..<12).map(Float.init), shape: [12])
        try check("Reshape", ["shape": .ints([0, 0, -1, 1])], [x], expected: (0..<12).map(Float.init), shape: [2, 3, 2, 1])
    }

    @Test func resizeNearestModes() throws {
        let image = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        try check("Resize", ["coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor"),
                             "scales": .floats([1, 1, 2, 2])], [image],
                  expected: [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], shape: [1, 1, 4, 4])
        // Asymmetric x/2 for 8 outputs: 0, .5, 1, 1.5, 2, 2.5, 3, 3.5, then rounded and clamped to 0...3.
        let ramp = row([0, 1, 2, 3])
        let asymmetric: [String: AttributeValue] = ["coordinate_transformation_mode": .string("asymmetric"), "sizes": .ints([1, 1, 1, 8])]
        let expectations: [(String, [Float])] = [
            ("round_prefer_floor", [0, 0, 1, 1, 2, 2, 3, 3]), ("round_prefer_ceil", [0, 1, 1, 2, 2, 3, 3, 3]),
            ("floor", [0, 0, 1, 1, 2, 2, 3, 3]), ("ceil", [0, 1, 1, 2, 2, 3, 3, 3]),
        ]
        for (mode, expected) in expectations {
            try check("Resize", asymmetric.merging(["nearest_mode": .string(mode)]) { $1 }, [ramp], expected: expected, shape: [1, 1, 1, 8])
        }
        // Half-pixel downscale 4 → 2: (o + ½)·2 − ½ = 0.5, 2.5, rounded half down to 0, 2.
        try check("Resize", ["sizes": .ints([1, 1, 1, 2])], [ramp], expected: [0, 2], shape: [1, 1, 1, 2])
    }

    @Test func resizeLinearCoordinateModes() throws {
        let pair = row([0, 4])
        // half_pixel ×2: −0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
        try check("Resize", ["mode": .string("linear"), "scales": .floats([1, 1, 1, 2])], [pair], expected: [0, 1, 3, 4], shape: [1, 1, 1, 4])
        // align_corners to 3: 0, 0.5, 1.
        try check("Resize", ["mode": .string("linear"), "coordinate_transformation_mode": .string("align_corners"), "sizes": .ints([1, 1, 1, 3])],
                  [pair], expected: [0, 2, 4], shape: [1, 1, 1, 3])
        // asymmetric ×2: 0, 0.5, 1, 1.5 (clamped to 1).
        try check("Resize", ["mode": .string("linear"), "coordinate_transformation_mode": .string("asymmetric"), "scales": .floats([1, 1, 1, 2])],
                  [pair], expected: [0, 2, 4, 4], shape: [1, 1, 1, 4])
        // One output column: pytorch_half_pixel reads coordinate 0; half_pixel (0.5)·3 − 0.5 = 1.
        let three = row([0, 4, 8])
        try check("Resize", ["mode": .string("linear"), "coordinate_transformation_mode": .string("pytorch_half_pixel"), "sizes": .ints([1, 1, 1, 1])],
                  [three], expected: [0], shape: [1, 1, 1, 1])
        try check("Resize", ["mode": .string("linear"), "sizes": .ints([1, 1, 1, 1])], [three], expected: [4], shape: [1, 1, 1, 1])
        // Bilinear in both axes, half_pixel ×2 on [[0, 4], [8, 12]]: rows blend 0, ¼, ¾, 1 likewise.
        let square = Tensor(shape: [1, 1, 2, 2], values: [0, 4, 8, 12])
        try check("Resize", ["mode": .string("linear"), "scales": .floats([1, 1, 2, 2])], [square],
                  expected: [0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12], shape: [1, 1, 4, 4])
    }

    @Test func padModes() throws {
        let x = Tensor(shape: [3], values: [1, 2, 3])
        try check("Pad", ["pads": .ints([2, 2]), "mode": .string("reflect")], [x], expected: [3, 2, 1, 2, 3, 2, 1], shape: [7])
        try check("Pad", ["pads": .ints([2, 2]), "mode": .string("edge")], [x], expected: [1, 1, 1, 2, 3, 3, 3], shape: [7])
        try check("Pad", ["pads": .ints([1, 0]), "value": .float(9)], [x], expected: [9, 1, 2, 3], shape: [4])
        try check("Pad", ["pads": .ints([-1, 1])], [x], expected: [2, 3, 0], shape: [3])
        let matrix = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        try check("Pad", ["pads": .ints([1, 0, 0, 1]), "mode": .string("reflect")], [matrix], expected: [3, 4, 3, 1, 2, 1, 3, 4, 3], shape: [3, 3])
        try check("Pad", ["pads": .ints([1, 0, 0, 1]), "mode": .string("edge")], [matrix], expected: [1, 2, 2, 1, 2, 2, 3, 4, 4], shape: [3, 3])
    }

    @Test func matMulOneDimensionalAndBatchedBroadcast() throws {
        let vector = Tensor(shape: [3], values: [1, 2, 3])
        let matrix = Tensor(shape: [3, 2], values: [1, 0, 0, 1, 1, 1])
        try check("MatMul", [:], [vector, matrix], expected: [4, 5], shape: [2])
        try check("MatMul", [:], [vector, Tensor(shape: [3], values: [4, 5, 6])], expected: [32], shape: [])
        try check("MatMul", [:], [Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), vector], expected: [14, 32], shape: [2])
        // A (2, 1, 1, 2) = [1 2], [3 4]; B (1, 2, 2, 1) = [1; 1], [1; -1]: every pair.
        let a = Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 4])
        let b = Tensor(shape: [1, 2, 2, 1], values: [1, 1, 1, -1])
        try check("MatMul", [:], [a, b], expected: [3, -1, 7, -1], shape: [2, 2, 1, 1])
    }

    @Test func gatherNegativeIndicesAndOutOfRangeThrows() throws {
        let data = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        try check("Gather", [:], [data, Tensor(shape: [2], values: [-1, 0])], expected: [5, 6, 1, 2], shape: [2, 2])
        try check("Gather", ["axis": .int(1)], [data, Tensor(shape: [1], values: [-2])], expected: [1, 3, 5], shape: [3, 1])
        let op = try Operator(type: "Gather", attributes: [:])
        for bad: Float in [3, -4, 1.5, .nan] {
            let indices = Tensor(shape: [2], values: [0, bad])
            let output = Tensor(zeros: try op.outputShape(inputs: [data.shape, indices.shape]))
            #expect {
                try op.execute(inputs: [data, indices], output: output, workspace: Workspace())
            } throws: { error in
                guard let error = error as? OperatorError, error.code == .indexOutOfRange else { return false }
                return error.message.contains("position 1") && error.message.contains("3x2") && error.message.contains("-3..<3")
            }
        }
    }

    @Test func convTransposeScattersKernel() throws {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        let ones = Tensor(shape: [1, 1, 2, 2], values: [1, 1, 1, 1])
        try check("ConvTranspose", ["strides": .ints([2, 2])], [x, ones],
                  expected: [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], shape: [1, 1, 4, 4])
        try check("ConvTranspose", [:], [x, ones, Tensor(shape: [1], values: [10])],
                  expected: [11, 13, 12, 14, 20, 16, 13, 17, 14], shape: [1, 1, 3, 3])
        // Cropping pads 1 on every side of the stride-1 result leaves its centre.
        try check("ConvTranspose", ["pads": .ints([1, 1, 1, 1])], [x, Tensor(shape: [1, 1, 3, 3], values: .init(repeating: 1, count: 9))],
                  expected: [10, 10, 10, 10], shape: [1, 1, 2, 2])
    }

    @Test func normalizationsAndReductions() throws {
        // mean 2, variance 2/3: (x − 2)/√(2/3) = ∓1.2247449.
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        try check("LayerNormalization", ["epsilon": .float(0)], [x, Tensor(shape: [3], values: [1, 1, 2]), Tensor(shape: [3], values: [0, 1, 0])],
                  expected: [-1.224_744_9, 1, 2.449_489_7], shape: [1, 3])
        try check("BatchNormalization", ["epsilon": .float(0)],
                  [Tensor(shape: [1, 2, 1, 1], values: [3, 3]), Tensor(shape: [2], values: [2, 1]), Tensor(shape: [2], values: [1, 0]),
                   Tensor(shape: [2], values: [1, 5]), Tensor(shape: [2], values: [4, 1])],
                  expected: [3, -2], shape: [1, 2, 1, 1])
        let nine = Tensor(shape: [1, 1, 3, 3], values: (1...9).map(Float.init))
        try check("ReduceMean", ["axes": .ints([2, 3])], [nine], expected: [5], shape: [1, 1, 1, 1])
        try check("ReduceSum", ["axes": .ints([-1]), "keepdims": .int(0)], [nine], expected: [6, 15, 24], shape: [1, 1, 3])
        // LRN size 3 over channels [1, 2, 3] at one pixel, bias 1, alpha 3 (alpha/size 1), beta 1.
        try check("LRN", ["size": .int(3), "alpha": .float(3), "beta": .float(1)], [Tensor(shape: [1, 3, 1, 1], values: [1, 2, 3])],
                  expected: [1.0 / 6, 2.0 / 15, 3.0 / 14], shape: [1, 3, 1, 1])
    }

    @Test func unaryValues() throws {
        let x = Tensor(shape: [4], values: [-3, -1.5, 1, 3])
        try check("HardSwish", [:], [x], expected: [0, -0.375, 2.0 / 3, 3], shape: [4])
        try check("HardSigmoid", [:], [x], expected: [0, 0.2, 0.7, 1], shape: [4])
        // Φ(1) = 0.8413447; tanh form 0.8411920.
        try check("Gelu", [:], [Tensor(shape: [2], values: [1, -1])], expected: [0.841_344_7, -0.158_655_3], shape: [2])
        try check("Gelu", ["approximate": .string("tanh")], [Tensor(shape: [1], values: [1])], expected: [0.841_192], shape: [1])
        try check("Erf", [:], [Tensor(shape: [1], values: [0.5])], expected: [0.520_499_9], shape: [1])
        let mixed = Tensor(shape: [4], values: [-1.7, 2.5, 0, -0.2])
        try check("Cast", ["to": .int(6)], [mixed], expected: [-1, 2, 0, 0], shape: [4])
        try check("Cast", ["to": .int(9)], [mixed], expected: [1, 1, 0, 1], shape: [4])
        try check("Cast", ["to": .int(10)], [mixed], expected: [-1.7, 2.5, 0, -0.2], shape: [4])
    }

    @Test func binaryValues() throws {
        let x = Tensor(shape: [3], values: [1, 2, 3])
        try check("Pow", [:], [x, Tensor(shape: [1], values: [2])], expected: [1, 4, 9], shape: [3])
        try check("Pow", [:], [Tensor(shape: [2], values: [4, 9]), Tensor(shape: [], values: [0.5])], expected: [2, 3], shape: [2])
        try check("Pow", [:], [Tensor(shape: [1], values: [2]), Tensor(shape: [2], values: [3, -1])], expected: [8, 0.5], shape: [2])
        try check("Equal", [:], [x, Tensor(shape: [1], values: [2])], expected: [0, 1, 0], shape: [3])
        try check("Where", [:], [Tensor(shape: [2, 1], values: [1, 0]), x, Tensor(shape: [1], values: [9])],
                  expected: [1, 2, 3, 9, 9, 9], shape: [2, 3])
        try check("PRelu", [:], [Tensor(shape: [2, 2], values: [-2, 2, -2, 2]), Tensor(shape: [2, 1], values: [0.5, 3])],
                  expected: [-1, 2, -6, 2], shape: [2, 2])
        try check("Sum", [:], [x, x, Tensor(shape: [2, 1], values: [10, 20])], expected: [12, 14, 16, 22, 24, 26], shape: [2, 3])
        try check("Max", [:], [x, Tensor(shape: [1], values: [2])], expected: [2, 2, 3], shape: [3])
    }
}
