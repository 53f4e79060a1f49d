@testable import DemandTensor
import DemandTestSupport
import DemandZoo
import Testing

/// The operator table's Conv rows on every GEMM path this process may run:
/// the im2col bands with OpenBLAS (what CPUs without AVX2 run) and CKernels'
/// AVX2 and AVX-512 GEMMs, which pack the columns from the input itself, each
/// against `Reference` within the case's tolerance (1e-4 for the rows below).
/// KernelTests runs the table on whichever path this CPU picks; this covers the others.
struct ConvPathTests {
    static let paths = BLAS.Path.allCases.filter(\.isAvailable)

    /// Larger than the table's rows: several 256-deep K slices, a column
    /// panel that spans output rows, a last partial panel and row group; and
    /// outputs of 1 and 4 pixels (the dot-product kernel alone), 6 pixels (a
    /// masked vector), and stride 3 (the packing's plain loop).
    static let large: [OperatorCase] = [
        OperatorCase(name: "conv 3x3 no pad, 1 output pixel, K 297", type: "Conv", attributes: [:],
                     inputs: [[1, 33, 3, 3], [7, 33, 3, 3], [7]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 no pad relu, 2x2 output pixels, K 144", type: "Conv", attributes: ["activation": .string("relu")],
                     inputs: [[1, 16, 4, 4], [9, 16, 3, 3], [9]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 no pad, 2x3 output pixels, K 45", type: "Conv", attributes: [:],
                     inputs: [[1, 5, 4, 5], [8, 5, 3, 3], [8]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 stride 3 pad 1, 7x9 output, K 72", type: "Conv",
                     attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([3, 3])],
                     inputs: [[1, 8, 20, 26], [10, 8, 3, 3], [10]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 stride 2 pad 1 relu, 17x17 output, K 288", type: "Conv",
                     attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2]), "activation": .string("relu")],
                     inputs: [[1, 32, 34, 33], [11, 32, 3, 3], [11]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 pad 1 relu, K 360, N 483, M 13", type: "Conv",
                     attributes: ["pads": .ints([1, 1, 1, 1]), "activation": .string("relu")],
                     inputs: [[1, 40, 23, 21], [13, 40, 3, 3], [13]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 stride 2 dilation 2 pads 2,1,0,3, K 540, batch 2", type: "Conv",
                     attributes: ["pads": .ints([2, 1, 0, 3]), "strides": .ints([2, 2]), "dilations": .ints([2, 2])],
                     inputs: [[2, 60, 19, 30], [20, 60, 3, 3], [20]], tolerance: 1e-4),
        // A fused residual Add (input R): in the GEMM's epilogue (pointwise, packed, Winograd), else by a pass after.
        OperatorCase(name: "conv 1x1 + residual relu, K 64, N 400", type: "Conv",
                     attributes: ["residual": .int(1), "activation": .string("relu")],
                     inputs: [[1, 64, 20, 20], [24, 64, 1, 1], [24], [1, 24, 20, 20]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 pad 1 + residual relu, 20x20 (Winograd-sized)", type: "Conv",
                     attributes: ["residual": .int(1), "activation": .string("relu"), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 16, 20, 20], [12, 16, 3, 3], [12], [1, 12, 20, 20]], tolerance: 1e-4),
        // From 24x24 outputs and up to 128 input channels Winograd runs as F(4x4, 3x3): rows and columns
        // not a multiple of 4, a residual, a batch.
        OperatorCase(name: "conv 3x3 pad 1 + residual relu, 26x29 (Winograd F(4x4, 3x3))", type: "Conv",
                     attributes: ["residual": .int(1), "activation": .string("relu"), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 24, 26, 29], [20, 24, 3, 3], [20], [1, 20, 26, 29]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 pad 0, batch 2, 24x25 outputs (Winograd F(4x4, 3x3))", type: "Conv",
                     attributes: ["pads": .ints([0, 0, 0, 0])],
                     inputs: [[2, 20, 26, 27], [7, 20, 3, 3], [7]], tolerance: 1e-4),
        OperatorCase(name: "conv 3x3 stride 2 + residual, no activation", type: "Conv",
                     attributes: ["residual": .int(1), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])],
                     inputs: [[1, 8, 17, 17], [6, 8, 3, 3], [6], [1, 6, 9, 9]], tolerance: 1e-4),
        OperatorCase(name: "conv groups 2 batch 2 + residual relu", type: "Conv",
                     attributes: ["residual": .int(1), "activation": .string("relu"), "group": .int(2), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[2, 4, 6, 6], [6, 2, 3, 3], [6], [2, 6, 6, 6]], tolerance: 1e-4),
        OperatorCase(name: "conv depthwise + residual silu (Add pass after)", type: "Conv",
                     attributes: ["residual": .int(1), "activation": .string("silu"), "group": .int(4), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 4, 9, 9], [4, 1, 3, 3], [4], [1, 4, 9, 9]], tolerance: 1e-4),
    ]

    @Test(arguments: OperatorCase.conv + large, paths)
    func convMatchesReferenceOnEachPath(_ testCase: OperatorCase, path: BLAS.Path) throws {
        let op = try Operator(type: testCase.type, attributes: testCase.attributes)
        let outputShape = try op.outputShape(inputs: testCase.inputs)
        var random = SeededRandom(name: testCase.name)
        let inputs = testCase.inputs.enumerated().map { random.tensor($1, testCase.domains?[$0] ?? .uniform(testCase.inputScale)) }
        let expected = Tensor(zeros: outputShape)
        Reference.execute(op, inputs: inputs, output: expected)

        let actual = Tensor(shape: outputShape, values: .init(repeating: .nan, count: outputShape.elementCount))
        let workspace = Workspace()
        workspace.gemmPath = path
        if let budget = testCase.columnBudgetFloats { workspace.columnBudgetFloats = budget }
        try op.execute(inputs: inputs, output: actual, workspace: workspace)
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: testCase.tolerance),
                "\(path): \(op) on \(testCase.inputs): \(closeness.describe(tolerance: testCase.tolerance))")
    }

    /// A fused residual gives the bits of the separate Conv (no activation) and Add (with it), on every path:
    /// models converted before and after the fusion agree exactly, and so do the policies.
    @Test(arguments: large.filter { $0.attributes["residual"] != nil }, paths)
    func residualEqualsSeparateAdd(_ testCase: OperatorCase, path: BLAS.Path) throws {
        let fused = try Operator(type: "Conv", attributes: testCase.attributes)
        var alone = testCase.attributes
        (alone["residual"], alone["activation"]) = (nil, nil)
        let conv = try Operator(type: "Conv", attributes: alone)
        var addAttributes: [String: AttributeValue] = [:]
        addAttributes["activation"] = testCase.attributes["activation"]
        let add = try Operator(type: "Add", attributes: addAttributes)
        let outputShape = try fused.outputShape(inputs: testCase.inputs)
        var random = SeededRandom(name: testCase.name)
        let inputs = testCase.inputs.map { random.tensor($0, .uniform(1)) }
        let workspace = Workspace()
        workspace.gemmPath = path
        let convOutput = Tensor(zeros: outputShape), separate = Tensor(zeros: outputShape), actual = Tensor(zeros: outputShape)
        try conv.execute(inputs: Array(inputs.prefix(3)), output: convOutput, workspace: workspace)
        try add.execute(inputs: [convOutput, inputs[3]], output: separate, workspace: workspace)
        try fused.execute(inputs: inputs, output: actual, workspace: workspace)
        #expect(actual.array.map(\.bitPattern) == separate.array.map(\.bitPattern), "\(path): \(testCase.name)")
    }

    /// The packed path stores no column matrix, so it asks for no workspace.
    @Test(.enabled(if: BLAS.Path.best != .openBLAS, "no CKernels GEMM path (the CPU lacks AVX2 + FMA and is not ARM64, or DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS=1 forbids it); the im2col path and its workspace are tested instead"))
    func packedColumnsNeedNoWorkspace() throws {
        let op = try Operator(type: "Conv", attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        #expect(op.workspaceFloatCount(inputs: [[1, 4, 12, 12], [8, 4, 3, 3]]) == 0)
        var random = SeededRandom(seed: 11)
        let inputs = [random.tensor([1, 4, 12, 12], scale: 1), random.tensor([8, 4, 3, 3], scale: 1)]
        let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
        let workspace = Workspace()
        try op.execute(inputs: inputs, output: output, workspace: workspace)
        #expect(workspace.floatCapacity == 0)
    }
}
