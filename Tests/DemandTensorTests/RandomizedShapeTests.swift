import DemandTensor
import DemandTestSupport
import DemandZoo
import Testing

/// Many random shapes and attributes for the ops whose fast kernels walk
/// strided layouts (broadcasts, transposes, slices, pads, reductions),
/// each against `Reference`: axis merging and row walking are where such
/// kernels go wrong, and fixed table rows cover only a few layouts.
struct RandomizedShapeTests {
    /// A small deterministic generator for shapes and attributes.
    struct Dice {
        var state: UInt64
        mutating func roll(_ range: ClosedRange<Int>) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return range.lowerBound + Int((state >> 33) % UInt64(range.count))
        }
        mutating func shape(rank: Int) -> Shape { Shape((0..<rank).map { _ in roll(1...4) }) }
        /// `shape` with some dims set to 1 and some leading axes dropped: broadcasts onto it.
        mutating func broadcastable(to shape: Shape) -> Shape {
            let dropped = roll(0...shape.rank)
            return Shape(shape.dims.dropFirst(dropped).map { roll(0...2) == 0 ? 1 : $0 })
        }
    }

    private func check(_ type: String, _ attributes: [String: AttributeValue], _ shapes: [Shape], seed: UInt64,
                       indices: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let op = try Operator(type: type, attributes: attributes)
        let outputShape = try op.outputShape(inputs: shapes)
        var random = SeededRandom(seed: seed)
        let inputs = shapes.enumerated().map { index, shape in
            random.tensor(shape, index == 0 && type == "Where" ? .naturals(2) : .uniform(1))
        }
        let expected = Tensor(zeros: outputShape)
        Reference.execute(op, inputs: inputs, output: expected)
        let actual = Tensor(shape: outputShape, values: .init(repeating: .nan, count: outputShape.elementCount))
        try op.execute(inputs: inputs, output: actual, workspace: Workspace(floatCount: op.workspaceFloatCount(inputs: shapes)))
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: 1e-5), "\(type) \(attributes) on \(shapes): \(closeness.describe(tolerance: 1e-5))",
                sourceLocation: sourceLocation)
    }

    @Test func broadcastBinariesAndWhere() throws {
        var dice = Dice(state: 1)
        for trial in 0..<150 {
            let output = dice.shape(rank: dice.roll(0...4))
            var shapes = [dice.broadcastable(to: output), dice.broadcastable(to: output)]
            shapes[dice.roll(0...1)] = output   // at least one full operand, so the output shape is `output`
            let type = ["Mul", "Sub", "Div", "Max", "Less"][trial % 5]
            try check(type, [:], shapes, seed: UInt64(trial))
            try check("Where", [:], [dice.broadcastable(to: output), dice.broadcastable(to: output), output], seed: UInt64(trial))
            try check("Expand", ["shape": .ints(output.dims)], [dice.broadcastable(to: output)], seed: UInt64(trial))
        }
    }

    @Test func transposesSlicesPadsAndReductions() throws {
        var dice = Dice(state: 2)
        for trial in 0..<150 {
            let rank = dice.roll(1...4)
            let shape = dice.shape(rank: rank)
            var perm = Array(0..<rank)
            for i in stride(from: rank - 1, to: 0, by: -1) { perm.swapAt(i, dice.roll(0...i)) }
            try check("Transpose", ["perm": .ints(perm)], [shape], seed: UInt64(trial))

            let axis = dice.roll(0...(rank - 1))
            let dim = shape[axis]
            let step = [1, 2, -1, -2][dice.roll(0...3)]
            let start = step > 0 ? dice.roll(-dim...(dim - 1)) : dice.roll(0...(dim + 1))
            // Ends that still leave at least one element, written in the ways ONNX allows.
            let end = step > 0 ? [9_223_372_036_854_775_807, dim, (start < 0 ? start + dim : start) + 1][dice.roll(0...2)]
                               : [-9_223_372_036_854_775_807, -dim - 1][dice.roll(0...1)]
            try check("Slice", ["starts": .ints([start]), "ends": .ints([end]), "axes": .ints([axis - (dice.roll(0...1) == 0 ? rank : 0)]),
                                "steps": .ints([step])], [shape], seed: UInt64(trial))

            let mode = ["constant", "reflect", "edge"][trial % 3]
            let pads = (0..<(2 * rank)).map { i -> Int in
                let d = shape[i % rank]
                return mode == "reflect" ? dice.roll(0...(d - 1)) : dice.roll(-(d - 1) / 2...2)
            }
            try check("Pad", ["pads": .ints(pads), "mode": .string(mode), "value": .float(0.25)], [shape], seed: UInt64(trial))

            let axes = (0..<rank).filter { _ in dice.roll(0...1) == 0 }
            try check(trial % 2 == 0 ? "ReduceSum" : "ReduceMean", ["axes": .ints(axes), "keepdims": .int(dice.roll(0...1))], [shape],
                      seed: UInt64(trial))
        }
    }

    @Test func matMulBatchLayouts() throws {
        var dice = Dice(state: 3)
        for trial in 0..<80 {
            let (m, k, n) = (dice.roll(1...5), dice.roll(1...5), dice.roll(1...5))
            let batch = dice.shape(rank: dice.roll(0...3))
            let a = Shape(dice.broadcastable(to: batch).dims + [m, k])
            let b = Shape(dice.broadcastable(to: batch).dims + [k, n])
            try check("MatMul", [:], [dice.roll(0...4) == 0 ? [k] : a, dice.roll(0...4) == 0 ? [k] : b], seed: UInt64(trial))
        }
    }

    /// Pools on rows wide enough for the vector loop over whole windows (8
    /// outputs at a time, strides 1 and 2), with padding, ceil mode and both
    /// averaging rules, so the vector outputs, the edges and the tail meet.
    @Test func poolsOnWideRows() throws {
        var dice = Dice(state: 4)
        for trial in 0..<60 {
            let (kernelH, kernelW) = (dice.roll(1...5), dice.roll(1...5))
            let strides = [dice.roll(1...2), dice.roll(1...3)]
            let pads = [dice.roll(0...(kernelH - 1) / 2), dice.roll(0...(kernelW - 1) / 2),
                        dice.roll(0...(kernelH - 1) / 2), dice.roll(0...(kernelW - 1) / 2)]
            let shape: Shape = [1, dice.roll(1...3), dice.roll(kernelH...12), dice.roll(max(kernelW, 8)...70)]
            var attributes: [String: AttributeValue] = ["kernel_shape": .ints([kernelH, kernelW]), "strides": .ints(strides),
                                                        "pads": .ints(pads), "ceil_mode": .int(dice.roll(0...1))]
            try check("MaxPool", attributes, [shape], seed: UInt64(trial))
            attributes["count_include_pad"] = .int(dice.roll(0...1))
            try check("AveragePool", attributes, [shape], seed: UInt64(trial))
        }
    }
}
