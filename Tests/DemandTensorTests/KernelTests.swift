@testable import DemandTensor
import DemandTestSupport
import DemandZoo
import Testing

/// Every row of the operator table, fast kernel against `Reference`.
struct KernelTests {
    @Test(arguments: OperatorCase.all)
    func fastKernelMatchesReference(_ testCase: OperatorCase) throws {
        let op = try Operator(type: testCase.type, attributes: testCase.attributes)
        let outputShape = try op.outputShape(inputs: testCase.inputs)
        if let expected = testCase.expectedShape { #expect(outputShape == expected) }

        var random = SeededRandom(name: testCase.name)
        let inputs = testCase.inputs.enumerated().map { random.tensor($1, testCase.domains?[$0] ?? .uniform(testCase.inputScale)) }
        let expected = Tensor(zeros: outputShape)
        Reference.execute(op, inputs: inputs, output: expected)

        // Garbage in the output proves the kernel does not rely on a zeroed buffer.
        let actual = Tensor(shape: outputShape, values: .init(repeating: .nan, count: outputShape.elementCount))
        let workspace = Workspace(floatCount: op.workspaceFloatCount(inputs: testCase.inputs))
        if let budget = testCase.columnBudgetFloats { workspace.columnBudgetFloats = budget }
        let allocations = workspace.allocationCount
        try op.execute(inputs: inputs, output: actual, workspace: workspace)
        #expect(workspace.allocationCount == allocations, "a workspace reserved with workspaceFloatCount grew")

        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: testCase.tolerance),
                "\(op) on \(testCase.inputs): \(closeness.describe(tolerance: testCase.tolerance))")

        let again = Tensor(zeros: outputShape)
        try op.execute(inputs: inputs, output: again, workspace: workspace)
        #expect(again.array == actual.array, "a second run with the same workspace differs")
    }

    @Test func workspaceIsReusedAcrossCalls() throws {
        let op = try Operator(type: "Conv", attributes: ["pads": .ints([1, 1, 1, 1])])
        var random = SeededRandom(seed: 7)
        let inputs = [random.tensor([1, 4, 12, 12], scale: 1), random.tensor([8, 4, 3, 3], scale: 1)]
        let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
        let workspace = Workspace()
        workspace.gemmPath = .openBLAS  // the im2col path, which uses the workspace
        try op.execute(inputs: inputs, output: output, workspace: workspace)
        let (capacity, allocations) = (workspace.floatCapacity, workspace.allocationCount)
        #expect(capacity >= 4 * 9 * 12 * 12)
        for _ in 0..<3 { try op.execute(inputs: inputs, output: output, workspace: workspace) }
        #expect(workspace.floatCapacity == capacity)
        #expect(workspace.allocationCount == allocations)
    }

    @Test func convPicksTheExpectedPath() throws {
        func path(_ attributes: [String: AttributeValue], _ input: Shape, _ weight: Shape) throws -> Conv2d.Path {
            guard case .conv(let parameters) = try Operator(type: "Conv", attributes: attributes) else {
                throw OperatorError(.unknownOperator, "not a conv")
            }
            let output = try Operator.conv(parameters).outputShape(inputs: [input, weight])
            return Conv2d.path(parameters, Conv2d.Geometry(input: input, weight: weight, output: output, groups: parameters.groups))
        }
        #expect(try path([:], [1, 8, 5, 5], [6, 8, 1, 1]) == .pointwise)
        #expect(try path(["strides": .ints([2, 2])], [1, 8, 5, 5], [6, 8, 1, 1]) == .im2col)
        #expect(try path(["group": .int(4)], [1, 4, 5, 5], [4, 1, 3, 3]) == .depthwise)
        #expect(try path(["group": .int(2)], [1, 2, 5, 5], [4, 1, 3, 3]) == .im2col)
        #expect(try path([:], [1, 3, 5, 5], [4, 3, 3, 3]) == .im2col)
    }

    /// Changing the count would race with sgemm calls of tests running in
    /// parallel, so this only sets the count OpenBLAS already has.
    @Test func blasThreadCountIsReadable() {
        let count = BLAS.threadCount
        #expect(count >= 1)
        BLAS.setThreadCount(count)
        #expect(BLAS.threadCount == count)
    }
}
